// Taps and interventions: the two words every metric, allocation and comparison is built from
// (DESIGN.md). A tap reads a named point of the forward pass without changing it; an intervention
// changes the forward pass.
//
// Tap names, for block l (0-based) and every position t, each [T, C] row-major:
//   blk.l.in       residual stream entering block l
//   blk.l.attn_out attention sublayer output (after its output projection, before the residual add;
//                  a 'scale' intervention multiplies it at the add, so the tap shows the unscaled output;
//                  a skipped sublayer taps as zeros)
//   blk.l.mid      residual stream after the attention add
//   blk.l.mlp_out  MLP sublayer output (before the residual add)
//   blk.l.out      residual stream leaving block l (= blk.(l+1).in)
//   blk.l.attn_ctx attention context before the output projection (the input of attn_output), [T, H*D]
//                  (a skipped attention sublayer taps as zeros)
//   blk.l.ffn_act  MLP activation before ffn_down: silu(gate) * up, or gelu(up + b), [T, dFF]
//                  (a skipped MLP taps as zeros)
//   final_norm     the last residual after the final norm, [T, C]
//   logits         [T, V]

export type TapPoint = 'in' | 'attn_out' | 'mid' | 'mlp_out' | 'out';
export const TAP_POINTS: TapPoint[] = ['in', 'attn_out', 'mid', 'mlp_out', 'out'];

export function tapName(layer: number, point: TapPoint): string {
  return `blk.${layer}.${point}`;
}

/** blk.l.attn_ctx: the attention context of block l, [T, H*D]. */
export function ctxTapName(layer: number): string {
  return `blk.${layer}.attn_ctx`;
}

/** blk.l.ffn_act: the MLP activation of block l (input of ffn_down), [T, dFF]. */
export function actTapName(layer: number): string {
  return `blk.${layer}.ffn_act`;
}

/** All block taps of a model with `nLayers` blocks (what metrics that scan the residual stream ask for). */
export function allBlockTaps(nLayers: number, points: TapPoint[] = TAP_POINTS): string[] {
  const out: string[] = [];
  for (let l = 0; l < nLayers; l++) for (const p of points) out.push(tapName(l, p));
  return out;
}

export function parseTap(name: string): { layer: number; point: TapPoint } | null {
  const m = /^blk\.(\d+)\.(in|attn_out|mid|mlp_out|out)$/.exec(name);
  return m ? { layer: Number(m[1]), point: m[2] as TapPoint } : null;
}

/**
 * Interventions that change the forward pass. Weight-changing interventions (quantize, low rank,
 * sparsity) are applied to the weights before the forward (see core/allocation); the forward itself
 * handles the structural ones below.
 */
export type Intervention =
  /** Skip the whole block: the residual passes through unchanged. */
  | { kind: 'skip-block'; layer: number }
  /** Skip the attention sublayer of a block (its output is treated as zero). K/V are not written. */
  | { kind: 'skip-attn'; layer: number }
  /** Skip the MLP sublayer of a block. */
  | { kind: 'skip-mlp'; layer: number }
  /** Scale a sublayer's output by `factor` (0 = skip); used by attribution and zeroth-order probes. */
  | { kind: 'scale'; layer: number; sublayer: 'attn' | 'mlp'; factor: number };

export interface ForwardOptions {
  /** Tap names to return (see above); 'logits' is always returned. */
  taps?: string[];
  interventions?: Intervention[];
  /** Return logits for every position (default) or only the last one (decoding). */
  logits?: 'all' | 'last';
}

export interface ForwardResult {
  /** [T, V] or [1, V] when logits: 'last'. */
  logits: Float32Array;
  /** Requested taps, each [T, C] ([T, V] for 'logits' is not repeated here). */
  taps: Record<string, Float32Array>;
  T: number;
}

/** Resolved view of a list of interventions for one layer. */
export interface LayerPlan {
  skipAttn: boolean;
  skipMlp: boolean;
  attnScale: number;
  mlpScale: number;
}

export function planLayers(nLayers: number, interventions: Intervention[] = []): LayerPlan[] {
  const plans: LayerPlan[] = Array.from({ length: nLayers }, () => ({ skipAttn: false, skipMlp: false, attnScale: 1, mlpScale: 1 }));
  for (const iv of interventions) {
    if (!Number.isInteger(iv.layer) || iv.layer < 0 || iv.layer >= nLayers) {
      throw new Error(`intervention ${iv.kind} names layer ${iv.layer}, but the model has layers 0..${nLayers - 1}`);
    }
    const p = plans[iv.layer];
    if (iv.kind === 'skip-block') { p.skipAttn = true; p.skipMlp = true; }
    else if (iv.kind === 'skip-attn') p.skipAttn = true;
    else if (iv.kind === 'skip-mlp') p.skipMlp = true;
    else if (iv.sublayer === 'attn') p.attnScale *= iv.factor;
    else p.mlpScale *= iv.factor;
  }
  return plans;
}
