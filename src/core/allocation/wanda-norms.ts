// Input feature norms for Wanda masks when a plan is applied for a comparison. Wanda (Sun et al. 2023,
// "A Simple and Effective Pruning Approach for Large Language Models", arXiv 2306.11695) scores weight
// W_ij by |W_ij| * ||X_j||_2, X [T, cols] the inputs of W over calibration tokens; without the norms
// apply-weights.ts falls back to per-row magnitude. This runs one forward of `ids` on the base model with
// the block taps (blk.l.in, blk.l.mid, and attn_ctx / ffn_act where the backend gives them) and
// accumulates ||X_j|| for every block linear weight (analysis/activations.ts InputNormAccumulator, the
// same accumulation the 'weights' metric's OWL outlier ratios use).
// Shapes: ids [T]; result: name -> Float32Array [cols].

import type { Backend } from '../model/backend.ts';
import type { LoadedModel } from '../formats/types.ts';
import type { ModelSpec } from '../model/spec.ts';
import { tapName } from '../model/taps.ts';
import { ACT_TAP, CTX_TAP, InputNormAccumulator } from '../analysis/activations.ts';
import { validateAllocation } from './schema.ts';

/** True when the allocation (valid for `spec`) masks some tensor by Wanda scores. */
export function needsWandaNorms(allocation: unknown, spec: ModelSpec): boolean {
  const v = validateAllocation(allocation, spec);
  return v.ok && !!v.plan && v.plan.tensors.some((t) => t.sparsity?.method === 'wanda');
}

/** ||X_j|| per input column of every block linear weight over the tokens `ids` (one base forward). */
export async function wandaInputNorms(backend: Backend, model: LoadedModel, ids: number[]): Promise<Record<string, Float32Array>> {
  const L = model.spec.nLayers;
  const taps: string[] = [];
  for (let l = 0; l < L; l++) taps.push(tapName(l, 'in'), tapName(l, 'mid'), CTX_TAP(l), ACT_TAP(l));
  const r = await backend.forward(ids, { taps });
  const acc = new InputNormAccumulator(model);
  acc.addText(r.taps, ids.length);
  const out: Record<string, Float32Array> = {};
  for (const name of model.tensors.keys()) {
    if (!/^blk\.\d+\./.test(name)) continue;
    const n = acc.norms(name);
    if (n) out[name] = n;
  }
  return out;
}
