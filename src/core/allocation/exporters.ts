// Exports of an allocation (plain strings / objects; the CLI and the UI write them to files):
//   - allocationJson: the allocation JSON, keys in a stable order;
//   - llamaQuantizeArgs: arguments for llama.cpp's llama-quantize. Syntax from its usage text
//     (tools/quantize/quantize.cpp): `--tensor-type TENSOR=TYPE` ("quantize this tensor to this
//     ggml_type. example: --tensor-type attn_q=q8_0", may be repeated; the name part is lower-cased and
//     used as a std::regex searched in each tensor name, the type is a ggml type name, case-insensitive),
//     `--prune-layers L0,L1,L2` ("comma-separated list of layer numbers to prune from the model": removes
//     every tensor of those blocks and renumbers the rest), then `model-f32.gguf model-quant.gguf type`.
//     Each quantized tensor gets an anchored pattern on its GGUF name: ^blk\.3\.attn_q\.weight$=q4_0.
//     llama.cpp renames tensors of later blocks when it prunes (src/llama-quant.cpp remap_layer) before it
//     picks types, so patterns are written with the renumbered block indices when blocks are pruned.
//     Tensors the plan does not name (embeddings, output, norms) get whatever llama-quantize picks for the
//     positional base type (default: the plan's most common GGUF format; pass baseType to choose).
//     Plain intN formats, ranks, sparsity, sublayer drops and KV bits have no llama-quantize form: they are
//     listed in `unsupported`.
//   - peftLoraConfig: a PEFT LoraConfig fragment for a rank plan: target_modules, layers_to_transform
//     (blocks with a rank entry), r (the most common rank) and rank_pattern (module name -> rank, for ranks
//     that differ from r), with Hugging Face module names (Llama: model.layers.N.self_attn.q_proj, ...;
//     GPT-2: transformer.h.N.attn.c_attn, ...).
//   - scoresCsv: every metric's per-block (and per-sublayer) values in long form:
//     metric,unit,higher_is_more_important,block,sublayer,value,rank (rank 1 = most important).

import type { ModelSpec } from '../model/spec.ts';
import type { LayerScores } from '../metrics/types.ts';
import { rankBlocks } from '../metrics/types.ts';
import { blockOf, formatName, type Allocation, type AllocationPlan } from './schema.ts';

/** JSON with object keys in insertion order for known fields, and layers / tensors keys sorted naturally. */
export function allocationJson(a: Allocation): string {
  const natural = (x: string, y: string): number => x.localeCompare(y, 'en', { numeric: true });
  const sortObj = <T>(o: Record<string, T> | undefined): Record<string, T> | undefined => {
    if (!o) return undefined;
    const out: Record<string, T> = {};
    for (const k of Object.keys(o).sort(natural)) out[k] = o[k];
    return out;
  };
  const doc: Record<string, unknown> = { schema: a.schema, model: a.model };
  if (a.strategy) doc.strategy = a.strategy;
  if (a.layers) doc.layers = sortObj(a.layers);
  if (a.tensors) doc.tensors = sortObj(a.tensors);
  return JSON.stringify(doc, null, 2) + '\n';
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export interface LlamaQuantizeExport {
  /** argv after the program name. */
  args: string[];
  /** The same as one shell-quoted line. */
  command: string;
  /** What the arguments cannot express. */
  unsupported: string[];
}

/**
 * llama-quantize arguments for a resolved plan (validateAllocation with a spec). `baseType` is the
 * positional type (default: the most common GGUF format in the plan, else F16).
 */
export function llamaQuantizeArgs(plan: AllocationPlan, opts: { input?: string; output?: string; baseType?: string } = {}): LlamaQuantizeExport {
  const unsupported: string[] = [];
  const pruned = plan.interventions.filter((iv) => iv.kind === 'skip-block').map((iv) => iv.layer).sort((a, b) => a - b);
  for (const iv of plan.interventions) if (iv.kind !== 'skip-block') unsupported.push(`${iv.kind} of block ${iv.layer} (llama-quantize prunes whole blocks only)`);
  for (const k of plan.kvBits) unsupported.push(`KV cache bits of block ${k.layer} (K ${k.k}, V ${k.v}): a runtime setting (llama.cpp --cache-type-k/-v apply to all layers)`);
  const renumber = (l: number): number => l - pruned.filter((p) => p < l).length;
  const counts = new Map<string, number>();
  const rules: string[] = [];
  for (const t of plan.tensors) {
    if (t.rank !== undefined) unsupported.push(`${t.name}: rank ${t.rank}`);
    if (t.sparsity) unsupported.push(`${t.name}: sparsity ${t.sparsity.method} ${t.sparsity.ratio}`);
    if (!t.format) continue;
    const b = blockOf(t.name);
    if (b !== null && pruned.includes(b)) continue;
    if (t.format.kind === 'plain') { unsupported.push(`${t.name}: ${formatName(t.format)} (no GGUF type)`); continue; }
    const name = b !== null ? t.name.replace(/^blk\.\d+\./, `blk.${renumber(b)}.`) : t.name;
    const type = t.format.name.toLowerCase();
    counts.set(t.format.name, (counts.get(t.format.name) ?? 0) + 1);
    rules.push(`^${escapeRe(`${name}.weight`)}$=${type}`);
  }
  let base = opts.baseType;
  if (!base) {
    let best = '';
    for (const [f, n] of counts) if (n > (counts.get(best) ?? 0)) best = f;
    base = best || 'F16';
  }
  const args: string[] = [];
  for (const r of rules) args.push('--tensor-type', r);
  if (pruned.length) args.push('--prune-layers', pruned.join(','));
  args.push(opts.input ?? 'model-f32.gguf', opts.output ?? 'model-quant.gguf', base.toUpperCase());
  const quote = (s: string): string => (/^[A-Za-z0-9_.,/=:-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  return { args, command: ['llama-quantize', ...args].map(quote).join(' '), unsupported };
}

const HF_LLAMA: Record<string, string> = {
  attn_q: 'self_attn.q_proj', attn_k: 'self_attn.k_proj', attn_v: 'self_attn.v_proj', attn_output: 'self_attn.o_proj',
  ffn_gate: 'mlp.gate_proj', ffn_up: 'mlp.up_proj', ffn_down: 'mlp.down_proj',
};
const HF_GPT2: Record<string, string> = { attn_qkv: 'attn.c_attn', attn_output: 'attn.c_proj', ffn_up: 'mlp.c_fc', ffn_down: 'mlp.c_proj' };

export interface PeftLoraFragment {
  r: number;
  target_modules: string[];
  layers_to_transform: number[];
  rank_pattern: Record<string, number>;
}

/** PEFT LoraConfig fields for the rank entries of a plan (see the file comment). */
export function peftLoraConfig(spec: ModelSpec, plan: AllocationPlan): PeftLoraFragment {
  const map = spec.arch === 'gpt2' ? HF_GPT2 : HF_LLAMA;
  const prefix = spec.arch === 'gpt2' ? 'transformer.h' : 'model.layers';
  const ranked = plan.tensors.filter((t) => t.rank !== undefined);
  if (ranked.length === 0) throw new Error('peftLoraConfig: the allocation has no rank entries');
  const freq = new Map<number, number>();
  for (const t of ranked) freq.set(t.rank!, (freq.get(t.rank!) ?? 0) + 1);
  let r = 0;
  for (const [k, n] of [...freq].sort((a, b) => a[0] - b[0])) if (n > (freq.get(r) ?? 0)) r = k;
  const modules = new Set<string>();
  const layers = new Set<number>();
  const pattern: Record<string, number> = {};
  for (const t of ranked) {
    const b = blockOf(t.name);
    const suffix = t.name.replace(/^blk\.\d+\./, '');
    const hf = map[suffix];
    if (b === null || !hf) throw new Error(`peftLoraConfig: ${t.name} has no ${spec.arch} Hugging Face module name`);
    modules.add(hf.split('.').pop()!);
    layers.add(b);
    if (t.rank !== r) pattern[`${prefix}.${b}.${hf}`] = t.rank!;
  }
  return { r, target_modules: [...modules].sort(), layers_to_transform: [...layers].sort((a, b) => a - b), rank_pattern: pattern };
}

const csvCell = (v: string | number | boolean | null): string => {
  if (v === null) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** Long-form CSV of every metric's block and sublayer values (NaN -> empty cell, rank empty). */
export function scoresCsv(scores: readonly LayerScores[]): string {
  const lines = ['metric,unit,higher_is_more_important,block,sublayer,value,rank'];
  const push = (s: LayerScores, vals: readonly number[], sub: string, blockOfIdx: (i: number) => number): void => {
    const order = rankBlocks(vals, s.higherIsMoreImportant);
    const rank = new Array<number | null>(vals.length).fill(null);
    order.forEach((i, k) => { if (!Number.isNaN(vals[i])) rank[i] = k + 1; });
    vals.forEach((v, i) => lines.push([s.metricId, s.unit, s.higherIsMoreImportant, blockOfIdx(i), sub, v, rank[i]].map(csvCell).join(',')));
  };
  for (const s of scores) {
    push(s, s.perBlock, '', (i) => i);
    if (s.perSublayer) {
      // Sublayer ranks order all 2L sublayers together (as the analysis report does).
      const L = s.perSublayer.attn.length;
      const both = [...s.perSublayer.attn, ...s.perSublayer.mlp];
      const order = rankBlocks(both, s.higherIsMoreImportant);
      const rank = new Array<number | null>(both.length).fill(null);
      order.forEach((i, k) => { if (!Number.isNaN(both[i])) rank[i] = k + 1; });
      both.forEach((v, i) => lines.push([s.metricId, s.unit, s.higherIsMoreImportant, i % L, i < L ? 'attn' : 'mlp', v, rank[i]].map(csvCell).join(',')));
    }
  }
  return lines.join('\n') + '\n';
}
