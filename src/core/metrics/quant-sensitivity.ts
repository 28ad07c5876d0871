// Quantization sensitivity (issue 3, metric 7): quantize only block l's linear weights, run the
// calibration texts, and measure how far the predictions move from the unmodified model's; and the same
// with every block quantized at once. The direct measurement that Hessian-based mixed-precision methods
// estimate (Dong et al. 2019, "HAWQ: Hessian AWare Quantization of Neural Networks with
// Mixed-Precision", arXiv 1905.03696); KL / top-1 as in llama.cpp's `perplexity --kl-divergence`.
//
// Schemes:
//   plain b-bit (b in `bits`, default 8, 6, 4, 3, 2): symmetric absmax, one scale per output row,
//     round half away from zero (src/core/quant/plain.ts);
//   GGUF block formats (`formats`, e.g. Q8_0, Q4_0, Q4_K): ggml's reference quantizer then its
//     dequantizer (src/core/quant/quantize.ts, dequant.ts). A tensor whose rows are not a whole number
//     of the format's blocks (stories260K's ffn_down rows hold 172 values; K-quants need 256) is left
//     unquantized and listed in extra.skipped with the reason; a block none of whose tensors fit gets
//     NaN for that format.
// Which weights: blk.l.attn_q/k/v or attn_qkv, attn_output, ffn_gate/up/down (2-D matrices; biases,
// norms, embeddings and the output matrix untouched). The modified values are dequantized to float32
// ("fake quantization") and stored as F32 tensors of a new LoadedModel that shares every other tensor
// with the original; `makeBackend` turns it into a backend (CPU or GPU) that is disposed after use.
// Starting weights are the model's own, dequantized to f32 (a Q8_0 file is requantized from its values).
//
// Measures per (scheme, block) and per (scheme, all blocks), pooled over all calibration tokens
// (ablation.ts measureDivergence): dNll, mean KL(base || quantized), top-1 agreement.
// perBlock = mean KL of quantizing only that block with the plain scheme at `refBits` (default 4 when
// requested, else the smallest requested bits; with no plain bits, the first format);
// higher = more sensitive = more important. perToken = KL per token of that same measurement.
// Cost: (bits + formats) x (L + 1) forward passes per text, each on a freshly made backend.

import type { Backend } from '../model/backend.ts';
import type { LoadedModel, WeightTensor } from '../formats/types.ts';
import { tensorToF32 } from '../model/weights.ts';
import { fakeQuantizePlain, plainQmax } from '../quant/plain.ts';
import { quantize, canQuantize } from '../quant/quantize.ts';
import { dequantize, canDequantize } from '../quant/dequant.ts';
import { GGMLType, TYPE_INFO, typeName } from '../quant/types.ts';
import { checkCancel, type CancelToken } from '../eval/perplexity.ts';
import { measureDivergence, nanSummary, type Calibration, type DivergenceSummary } from './ablation.ts';
import { LINEAR_SUFFIXES, scores, type LayerScores, type MetricMeta } from './types.ts';

export const meta: MetricMeta = {
  id: 'quant',
  label: 'Quantization sensitivity KL(base || block quantized)',
  paper: 'Dong et al. 2019, HAWQ: Hessian AWare Quantization of Neural Networks with Mixed-Precision, arXiv 1905.03696 (measured directly); absmax per-row scheme of Dettmers et al. 2022, LLM.int8(), arXiv 2208.07339',
  unit: 'nats',
  higherIsMoreImportant: true,
  needs: ['ablation', 'weights'],
};

export const DEFAULT_BITS = [8, 6, 4, 3, 2];
export const DEFAULT_FORMATS = ['Q8_0', 'Q6_K', 'Q5_0', 'Q4_K', 'Q4_0', 'Q3_K', 'Q2_K'];

export type MakeBackend = (model: LoadedModel) => Backend | Promise<Backend>;

/** A measurement without the per-token array (what extra keeps). */
export interface QuantMeasure {
  dNll: number;
  kl: number;
  top1: number;
  nllMod: number;
  /** Tensors quantized in this measurement, and tensors left alone because the format did not fit. */
  tensors: number;
  skippedTensors: number;
}

export interface QuantSchemeResult {
  /** 'plain' with `bits`, or a GGUF type name in `format`. */
  scheme: 'plain' | 'gguf';
  bits?: number;
  format?: string;
  /** Per block: only that block quantized. */
  blocks: QuantMeasure[];
  /** Every block quantized at once. */
  all: QuantMeasure;
}

export interface QuantExtra {
  /** Which measurement perBlock shows: e.g. "plain 4-bit" or "Q4_0". */
  valueFrom: string;
  refBits: number | null;
  nllBase: number;
  plain: QuantSchemeResult[];
  formats: QuantSchemeResult[];
  skipped: { format: string; tensor: string; reason: string }[];
}

export interface QuantSensitivityContext {
  model: LoadedModel;
  calib: Calibration;
  makeBackend: MakeBackend;
  bits?: number[];
  /** GGUF type names (Q8_0, Q4_K, ...) or GGMLType values. */
  formats?: (string | GGMLType)[];
  refBits?: number;
  cancel?: CancelToken;
  onForward?: (what: string) => void;
}

/** GGUF type from a name such as "Q4_K" (case-insensitive) or a GGMLType value; checks it can round-trip. */
export function parseFormat(f: string | GGMLType): GGMLType {
  const t = typeof f === 'number' ? f : (GGMLType as unknown as Record<string, number>)[f.toUpperCase()];
  if (t === undefined || !TYPE_INFO[t as GGMLType]) throw new Error(`unknown GGUF type "${f}"`);
  if (!canQuantize(t) || !canDequantize(t)) throw new Error(`GGUF type ${typeName(t)} cannot be quantized here (supported: the legacy Q4_0..Q8_0, K-quants, IQ4_NL/XS, TQ1_0/TQ2_0)`);
  return t as GGMLType;
}

/** The linear weight matrices of block l that the model has (2-D tensors only). */
export function blockLinearTensors(model: LoadedModel, layer: number): WeightTensor[] {
  const out: WeightTensor[] = [];
  for (const s of LINEAR_SUFFIXES) {
    const t = model.tensors.get(`blk.${layer}.${s}`);
    if (t && t.shape.length === 2) out.push(t);
  }
  return out;
}

/** A LoadedModel whose named tensors are replaced by F32 tensors of the given values (others shared). */
export function withF32Tensors(model: LoadedModel, replace: ReadonlyMap<string, Float32Array>): LoadedModel {
  const tensors = new Map(model.tensors);
  for (const [name, values] of replace) {
    const t = model.tensors.get(name);
    if (!t) throw new Error(`withF32Tensors: the model has no tensor ${name}`);
    if (values.length !== t.shape.reduce((a, b) => a * b, 1)) throw new Error(`withF32Tensors: ${name} needs ${t.shape.join('x')} values, got ${values.length}`);
    tensors.set(name, { name, type: GGMLType.F32, shape: t.shape.slice(), data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) });
  }
  return { ...model, tensors };
}

type Quantizer = (t: WeightTensor) => { values: Float32Array } | { skip: string };

function plainQuantizer(bits: number): Quantizer {
  plainQmax(bits);
  return (t) => ({ values: fakeQuantizePlain(tensorToF32(t), t.shape[0], t.shape[1], bits) });
}

function ggufQuantizer(type: GGMLType): Quantizer {
  const info = TYPE_INFO[type]!;
  return (t) => {
    const cols = t.shape[1];
    if (cols % info.blockSize !== 0) return { skip: `row length ${cols} is not a multiple of the ${info.name} block size ${info.blockSize}` };
    const n = t.shape[0] * cols;
    return { values: dequantize(type, quantize(type, tensorToF32(t)), n) };
  };
}

function strip(s: DivergenceSummary, tensors: number, skippedTensors: number): QuantMeasure {
  return { dNll: s.dNll, kl: s.kl, top1: s.top1, nllMod: s.nllMod, tensors, skippedTensors };
}

async function runScheme(
  ctx: QuantSensitivityContext,
  label: string,
  quantizer: Quantizer,
  skipped: QuantExtra['skipped'],
): Promise<{ blocks: DivergenceSummary[]; counts: [number, number][]; all: QuantMeasure }> {
  const { model } = ctx;
  const L = model.spec.nLayers;
  const tokens = ctx.calib.ids.reduce((a, ids) => a + ids.length, 0);
  const done = new Map<string, Float32Array>();
  const blocks: DivergenceSummary[] = [];
  const counts: [number, number][] = [];
  const measure = async (replace: Map<string, Float32Array>, what: string): Promise<DivergenceSummary> => {
    if (replace.size === 0) {
      for (let i = 0; i < ctx.calib.ids.length; i++) ctx.onForward?.(`${what} (nothing to quantize)`);
      return nanSummary(tokens);
    }
    checkCancel(ctx.cancel);
    const backend = await ctx.makeBackend(withF32Tensors(model, replace));
    try {
      return await measureDivergence(backend, ctx.calib, [], { cancel: ctx.cancel, onForward: () => ctx.onForward?.(what) });
    } finally {
      backend.dispose();
    }
  };
  for (let l = 0; l < L; l++) {
    checkCancel(ctx.cancel);
    const replace = new Map<string, Float32Array>();
    let skip = 0;
    for (const t of blockLinearTensors(model, l)) {
      const q = quantizer(t);
      if ('skip' in q) {
        skipped.push({ format: label, tensor: t.name, reason: q.skip });
        skip++;
      } else {
        replace.set(t.name, q.values);
        done.set(t.name, q.values);
      }
    }
    blocks.push(await measure(replace, `quant ${label}: block ${l}`));
    counts.push([replace.size, skip]);
  }
  const allSummary = await measure(done, `quant ${label}: all blocks`);
  const total = counts.reduce((a, c) => [a[0] + c[0], a[1] + c[1]], [0, 0]);
  return { blocks, counts, all: strip(allSummary, total[0], total[1]) };
}

export async function compute(ctx: QuantSensitivityContext): Promise<LayerScores> {
  const bits = ctx.bits ?? DEFAULT_BITS;
  const formats = (ctx.formats ?? DEFAULT_FORMATS).map(parseFormat);
  for (const b of bits) plainQmax(b);
  if (bits.length === 0 && formats.length === 0) throw new Error('quantization sensitivity: no bit widths and no formats to measure');
  const refBits = bits.length ? (ctx.refBits ?? (bits.includes(4) ? 4 : Math.min(...bits))) : null;
  if (refBits !== null && !bits.includes(refBits)) throw new Error(`quantization sensitivity: refBits ${refBits} is not among the measured bits ${bits.join(', ')}`);
  const skipped: QuantExtra['skipped'] = [];
  const plain: QuantSchemeResult[] = [];
  const fmts: QuantSchemeResult[] = [];
  let value: DivergenceSummary[] | null = null;
  let nllBase = NaN;
  for (const b of bits) {
    const r = await runScheme(ctx, `plain ${b}-bit`, plainQuantizer(b), skipped);
    plain.push({ scheme: 'plain', bits: b, blocks: r.blocks.map((s, l) => strip(s, ...r.counts[l])), all: r.all });
    if (b === refBits) value = r.blocks;
    for (const s of r.blocks) if (!Number.isNaN(s.nllBase)) nllBase = s.nllBase;
  }
  for (const f of formats) {
    const name = typeName(f);
    const r = await runScheme(ctx, name, ggufQuantizer(f), skipped);
    fmts.push({ scheme: 'gguf', format: name, blocks: r.blocks.map((s, l) => strip(s, ...r.counts[l])), all: r.all });
    if (!value) value = r.blocks;
    for (const s of r.blocks) if (!Number.isNaN(s.nllBase)) nllBase = s.nllBase;
  }
  const v = value!;
  const extra: QuantExtra = {
    valueFrom: refBits !== null ? `plain ${refBits}-bit` : typeName(formats[0]),
    refBits,
    nllBase,
    plain,
    formats: fmts,
    skipped,
  };
  return scores(meta, v.map((s) => s.kl), { perToken: v.map((s) => s.klPerToken), extra: extra as unknown as Record<string, unknown> });
}
