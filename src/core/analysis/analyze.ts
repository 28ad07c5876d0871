// A layer-importance analysis run (issue 3): calibration texts -> forwards with taps on any Backend ->
// every requested metric of src/core/metrics -> one AnalysisResult of plain data (LayerScores per metric,
// rank agreement, logit-lens detail, calibration facts, timings). DOM- and GPU-free: it talks only to the
// Backend interface, so the CPU reference and the WebGPU backend run the same analysis.
//
// Calibration: each text is tokenized with the model's tokenizer (BOS per addBos, default the
// tokenizer's), cut to maxTokens (default the context length) and run once, from position 0, with the
// block taps the requested metrics need (blk.l.in/attn_out/mid/mlp_out/out) and all-position logits.
// Several texts: the per-token taps and logits are concatenated along the token axis (texts stay
// separate sequences in the forward) and every taps metric is computed once over the concatenation, so
//   - per-token values (cos, LIM, contribution, lens KL, ablation/quant KL) are those of each text, and
//     perToken matrices are L x (T_1 + ... + T_n) (calibration.textStarts marks where each text begins);
//   - per-block values are token-weighted means over all texts (= the per-text means weighted by T_i);
//   - CKA pools the tokens of all texts as its examples;
//   - cos' "without position 0" means leave out the first token of every text;
//   - OWL's ||X_j|| sums x_tj^2 over all tokens of all texts;
//   - ablation / quantization KL, dNLL and top-1 pool all rows of all texts (metrics/ablation.ts).
// Weights for the weight metrics are the model's tensors dequantized to f32 (tensorToF32), one tensor at
// a time (not cached: a large model need not fit in memory as f32). The logit lens unembeds on the CPU
// (ReferenceModel.unembed: the model's final norm and output matrix) unless `unembed` is given.
// With `activationScanner` / `weightScanner` (the engine injects the GPU's, src/gpu/analysis-scans.ts) the
// heavy scans of cos / lim / contrib / cka and of zd / weights run there and the scores are built from
// their small results (src/core/analysis/scans.ts: the same fields); result.scanBackends says where.

import type { Backend } from '../model/backend.ts';
import type { LoadedModel } from '../formats/types.ts';
import { ReferenceModel } from '../model/forward.ts';
import { tapName, type TapPoint } from '../model/taps.ts';
import { tensorToF32 } from '../model/weights.ts';
import { checkCancel } from '../eval/perplexity.ts';
import { computeMetric, rankAgreement, type LayerScores, type WeightLookup } from '../metrics/index.ts';
import * as weightsMetric from '../metrics/weights.ts';
import * as ablation from '../metrics/ablation.ts';
import * as quant from '../metrics/quant-sensitivity.ts';
import * as taylor from '../metrics/taylor.ts';
import * as fisher from '../metrics/fisher.ts';
import * as zo from '../metrics/zo.ts';
import { GradModel } from '../grad/backward.ts';
import { tokenNll } from '../eval/nll.ts';
import { plainQmax } from '../quant/plain.ts';
import { ACT_TAP, CTX_TAP, InputNormAccumulator } from './activations.ts';
import { lensWithDetail, type LensDetail } from './lens-detail.ts';
import { GROUPS, resolveMetricNames } from './metrics.ts';
import { groupWhat } from './progress.ts';
import { ckaFromScan, contribFromSums, cosFromSums, limFromSums, scanWeightStats, zdFromScan, type ActivationScan } from './scans.ts';
import type { AnalysisMetricName, AnalysisResult, AnalyzeOptions, CalibrationFacts } from './types.ts';

/** Taps the Taylor terms read when residual gradients come from opts.residGrad. */
const TAYLOR_TAPS: TapPoint[] = ['in', 'attn_out', 'mlp_out', 'out'];

const TAPS_OF: Partial<Record<AnalysisMetricName, TapPoint[]>> = {
  cos: ['in', 'mid', 'out'],
  lim: ['in', 'out'],
  contrib: ['in', 'attn_out', 'mid', 'mlp_out', 'out'],
  cka: ['in', 'out'],
  lens: ['in', 'out'],
  weights: ['in', 'mid'],
};

/** Token ids per text from the request (tokenized, truncated), with the facts the result reports. */
export function calibrationIds(model: LoadedModel, opts: AnalyzeOptions): { ids: number[][]; truncated: { text: number; tokens: number }[]; maxTokens: number } {
  const ctxLen = model.spec.contextLength;
  const maxTokens = Math.min(opts.maxTokens ?? ctxLen, ctxLen);
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new Error(`maxTokens must be a positive integer, got ${opts.maxTokens}`);
  let raw: number[][];
  if (opts.ids) raw = opts.ids.map((x) => x.slice());
  else if (opts.texts) raw = opts.texts.map((t) => model.tokenizer.encode(t, { addBos: opts.addBos }));
  else throw new Error('analysis needs calibration texts or token ids');
  if (raw.length === 0) throw new Error('analysis needs at least one calibration text');
  const truncated: { text: number; tokens: number }[] = [];
  const ids = raw.map((x, i) => {
    if (x.length === 0) throw new Error(`calibration text ${i + 1} is empty (no tokens)`);
    if (x.length > maxTokens) {
      truncated.push({ text: i, tokens: x.length });
      return x.slice(0, maxTokens);
    }
    return x;
  });
  return { ids, truncated, maxTokens };
}

/** Concatenate [T_i, W] arrays along the token axis. */
function concat(parts: Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0];
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Dequantized 2-D weights by canonical name, one tensor at a time (no cache). */
export function weightLookup(model: LoadedModel): WeightLookup {
  return (name) => {
    const t = model.tensors.get(name);
    if (!t || t.shape.length !== 2) return undefined;
    return { data: tensorToF32(t), rows: t.shape[0], cols: t.shape[1] };
  };
}

export async function analyze(backend: Backend, model: LoadedModel, opts: AnalyzeOptions): Promise<AnalysisResult> {
  const t0 = performance.now();
  const spec = model.spec;
  const L = spec.nLayers;
  const C = spec.dModel;
  const V = spec.vocabSize;
  const groups = resolveMetricNames(opts.metrics);
  const has = (g: AnalysisMetricName) => groups.includes(g);
  const outlierK = opts.outlierK ?? 5;
  const owlM = opts.owlM ?? 5;
  const bits = opts.bits ?? quant.DEFAULT_BITS;
  const formats = (opts.formats ?? quant.DEFAULT_FORMATS).map((f) => f.toUpperCase());
  const lensTopK = opts.lensTopK ?? 5;
  if (!Number.isInteger(lensTopK) || lensTopK < 1) throw new Error(`lensTopK must be a positive integer, got ${lensTopK}`);
  if (has('quant')) {
    if (!opts.makeBackend) throw new Error('quantization sensitivity needs a backend factory (makeBackend) to run modified weights');
    formats.forEach((f) => quant.parseFormat(f));
    bits.forEach((b) => plainQmax(b));
    if (opts.refBits !== undefined && !bits.includes(opts.refBits)) throw new Error(`refBits ${opts.refBits} is not among the measured bits (${bits.join(', ')})`);
    if (bits.length === 0 && formats.length === 0) throw new Error('quantization sensitivity: no bit widths and no formats to measure');
  }
  const { ids, truncated, maxTokens } = calibrationIds(model, opts);
  const n = ids.length;
  const timings: Record<string, number> = {};
  const timed = async <R>(key: string, f: () => R | Promise<R>): Promise<R> => {
    const s = performance.now();
    try {
      return await f();
    } finally {
      timings[key] = (timings[key] ?? 0) + (performance.now() - s);
    }
  };

  // Progress: one step per forward pass, one per cheap metric; every event names its group and the
  // group's own steps (src/core/analysis/progress.ts), and a group announces itself before it starts.
  const stepsOf = (g: string): number => (g === 'forward' ? n : g === 'ablation' ? 3 * L * n : g === 'quant' ? (bits.length + formats.length) * (L + 1) * n : 1);
  const total = stepsOf('forward') + groups.reduce((a, g) => a + stepsOf(g), 0);
  let done = 0;
  const groupDone: Record<string, number> = {};
  const tick = (g: string, what: string) => {
    done++;
    groupDone[g] = (groupDone[g] ?? 0) + 1;
    opts.progress?.(done, total, groupWhat(g, Math.min(groupDone[g], stepsOf(g)), stepsOf(g), what));
  };
  const start = (g: string) => opts.progress?.(done, total, groupWhat(g, 0, stepsOf(g), 'started'));

  // Forwards with taps, one per text.
  const points = new Set<TapPoint>();
  for (const g of groups) for (const p of TAPS_OF[g] ?? []) points.add(p);
  // Injected residual gradients (taylor, zo's exact terms) pair with the taps of these forwards.
  const gradTaps = !!opts.residGrad && (has('taylor') || has('zo'));
  if (gradTaps) for (const p of TAYLOR_TAPS) points.add(p);
  const tapNames: string[] = [];
  for (let l = 0; l < L; l++) for (const p of points) tapNames.push(tapName(l, p));
  if (has('weights')) for (let l = 0; l < L; l++) tapNames.push(CTX_TAP(l), ACT_TAP(l));
  const acc = has('weights') ? new InputNormAccumulator(model) : null;
  const perText: Record<string, Float32Array>[] = [];
  start('forward');
  const baseLogits: Float32Array[] = [];
  let nllSum = 0;
  let scored = 0;
  for (let i = 0; i < n; i++) {
    checkCancel(opts.cancel);
    const r = await timed('forward', () => backend.forward(ids[i], { taps: tapNames }));
    baseLogits.push(r.logits);
    for (const x of tokenNll(r.logits, V, ids[i])) {
      nllSum += x;
      scored++;
    }
    if (acc) await timed('activations', () => acc.addText(r.taps, ids[i].length));
    // Keep only the block taps the metrics read (attn_ctx / ffn_act are consumed above).
    const keep: Record<string, Float32Array> = {};
    for (let l = 0; l < L; l++) for (const p of points) keep[tapName(l, p)] = r.taps[tapName(l, p)];
    perText.push(keep);
    tick('forward', `forward with taps: text ${i + 1} of ${n}`);
  }
  const T = ids.reduce((a, x) => a + x.length, 0);
  const taps: Record<string, Float32Array> = {};
  for (let l = 0; l < L; l++) {
    for (const p of points) {
      const name = tapName(l, p);
      const parts = perText.map((t) => t[name]);
      if (parts.some((x) => !x)) throw new Error(`the backend did not return tap ${name}`);
      taps[name] = concat(parts);
    }
  }
  perText.length = 0;
  const textStarts: number[] = [];
  ids.reduce((o, x) => (textStarts.push(o), o + x.length), 0);

  const scores: LayerScores[] = [];
  let lens: LensDetail | null = null;
  // Injected scanners (the GPU): one activation scan for cos / lim / contrib / cka, one weight scan for
  // zd / weights, each run lazily by the first group that needs it; scanBackends records where each ran.
  const scanBackends: Record<string, string> = {};
  let actScan: Promise<ActivationScan> | undefined;
  const scanActivations = () =>
    (actScan ??= opts.activationScanner!.scan({ taps, nLayers: L, T, C, tokens: has('cos') || has('lim') || has('contrib'), cka: has('cka') }));
  let wScan: ReturnType<typeof scanWeightStats> | undefined;
  const scanWeights = () =>
    (wScan ??= scanWeightStats({ nLayers: L, weight, inputNorms: acc ? (name: string) => acc.norms(name) : undefined, outlierK, owlM, effectiveRank: has('weights') }, opts.weightScanner!));
  const tapsMetric = async (g: 'cos' | 'lim' | 'contrib' | 'cka'): Promise<LayerScores> => {
    if (opts.activationScanner) {
      const r = await scanActivations();
      const s = g === 'cka' ? (r.cka ? ckaFromScan(r.cka) : null) : r.tokenSums ? { cos: cosFromSums, lim: limFromSums, contrib: contribFromSums }[g](r.tokenSums, L, T, taps) : null;
      if (s) {
        scanBackends[g] = opts.activationScanner.backend;
        return s;
      }
    }
    scanBackends[g] = 'cpu';
    return computeMetric(g, { nLayers: L, taps, T, C });
  };
  const calib: ablation.Calibration = { ids, baseLogits, vocabSize: V };
  const weight = weightLookup(model);
  // Gradient metrics (taylor, fisher, zo): one float64 CPU model (built only when no injected provider
  // serves the model) and one set of Taylor terms, shared.
  let gradModel: GradModel | undefined;
  let terms: taylor.TaylorTerms | undefined;
  const gradCtx = () => ({ grad: (gradModel ??= new GradModel(model)), ids });
  // Taylor terms from the injected provider (the analysis forwards have no interventions), rescaled from
  // each text's own mean loss to the mean over all scored tokens; null from the provider -> CPU.
  const NO_PROVIDER = Symbol('no residGrad');
  const providerTerms = async (): Promise<taylor.TaylorTerms | null> => {
    if (!gradTaps) return null;
    const provider = opts.residGrad!;
    try {
      return await taylor.taylorTermsFrom(L, C, ids, async (i, denom) => {
        const x = ids[i];
        const r = await provider(model, x);
        if (!r) throw NO_PROVIDER;
        const f = Math.max(0, x.length - 1) / denom;
        const resid: Record<string, Float64Array> = {};
        for (const [k, v] of Object.entries(r.resid)) resid[k] = Float64Array.from(v, (y) => y * f);
        const o = textStarts[i] * C;
        const tt: Record<string, Float32Array> = {};
        for (let l = 0; l < L; l++) for (const p of TAYLOR_TAPS) tt[tapName(l, p)] = taps[tapName(l, p)].subarray(o, o + x.length * C);
        return { loss: r.loss * f, resid, taps: tt };
      }, 'gpu');
    } catch (e) {
      if (e === NO_PROVIDER) return null;
      throw e;
    }
  };
  const taylorTerms = async () => (terms ??= (await providerTerms()) ?? taylor.taylorTerms(gradCtx()));
  for (const g of groups) {
    checkCancel(opts.cancel);
    start(g);
    switch (g) {
      case 'cos':
      case 'lim':
      case 'contrib':
      case 'cka': {
        const s = await timed(g, () => tapsMetric(g));
        if (g === 'cos' && n > 1) fixNoFirst(s, textStarts, T);
        scores.push(s);
        tick(g, g);
        break;
      }
      case 'lens': {
        const unembed = opts.unembed ?? ((): ((h: Float32Array, T: number) => Float32Array) => {
          const ref = new ReferenceModel(model);
          return (h, t) => ref.unembed(h, t);
        })();
        const r = await timed('lens', () => lensWithDetail({ ...taps, logits: concat(baseLogits) }, T, C, L, unembed, lensTopK));
        scores.push(r.scores);
        lens = r.detail;
        const seen = new Set<number>([...lens.finalTop1, ...lens.topIds.flat(2)]);
        lens.pieces = Object.fromEntries([...seen].sort((a, b) => a - b).map((id) => [String(id), model.tokenizer.piece(id)]));
        tick(g, 'logit lens');
        break;
      }
      case 'zd':
        scores.push(await timed('zd', async () => (opts.weightScanner ? zdFromScan((await scanWeights()).zd) : computeMetric('zd', { nLayers: L, weight }))));
        scanBackends.zd = opts.weightScanner?.backend ?? 'cpu';
        tick(g, 'zd');
        break;
      case 'weights': {
        await timed('weights', async () => {
          const ctx = { nLayers: L, weight, inputNorms: (name: string) => acc!.norms(name), outlierK, owlM };
          const ws = opts.weightScanner ? (await scanWeights()).stats : weightsMetric.weightStats(ctx);
          for (const id of GROUPS.weights) {
            scanBackends[id] = id === 'erank' ? 'cpu' : (opts.weightScanner?.backend ?? 'cpu');
            const stat = id === 'w-fro' ? 'fro' : id === 'w-kurtosis' ? 'kurtosis' : id === 'w-outliers' ? 'outliers' : (id as 'owl' | 'erank');
            scores.push(weightsMetric.compute(ctx, stat, ws));
          }
        });
        tick(g, 'weight statistics');
        break;
      }
      case 'ablation':
        scores.push(await timed('ablation', () => ablation.compute({ backend, calib, nLayers: L, cancel: opts.cancel, onForward: (w) => tick(g, w) })));
        break;
      case 'quant':
        scores.push(
          await timed('quant', () =>
            quant.compute({ model, calib, makeBackend: opts.makeBackend!, bits, formats, refBits: opts.refBits, cancel: opts.cancel, onForward: (w) => tick(g, w) }),
          ),
        );
        break;
      case 'taylor':
        scores.push(await timed('taylor', async () => taylor.compute({ get grad() { return (gradModel ??= new GradModel(model)); }, ids }, await taylorTerms())));
        tick(g, `first-order Taylor (${terms?.gradientBackend === 'gpu' ? 'GPU' : 'CPU'} gradients)`);
        break;
      case 'fisher': {
        // Per-tensor squared-gradient sums from the injected provider when it serves this model, else the CPU.
        const provider = opts.weightGradSq;
        const s = await timed('fisher', async () => {
          const sums = provider ? await fisher.fisherSumsFrom(ids, (x) => provider(model, x), 'gpu') : null;
          if (!sums) return fisher.compute(gradCtx());
          const sizes = [...model.tensors].map(([name, t]): [string, number] => [name, t.shape.reduce((a, b) => a * b, 1)]);
          return fisher.fromSums(L, sizes, sums);
        });
        scores.push(s);
        tick(g, `Fisher (${s.extra?.gradientBackend === 'gpu' ? 'GPU' : 'CPU'} gradients)`);
        break;
      }
      case 'zo':
        scores.push(
          await timed('zo', async () =>
            zo.compute({ nLayers: L, loss: zo.backendLoss(backend, ids), exact: await taylorTerms(), eps: opts.zoEps, forwardBackend: backend.info().kind, onProbe: () => checkCancel(opts.cancel) }),
          ),
        );
        tick(g, 'zeroth-order estimate');
        break;
      case 'agreement':
        break;
    }
  }
  const agreement = has('agreement') ? await timed('agreement', () => rankAgreement(scores)) : null;
  if (has('agreement')) tick('agreement', 'rank agreement');
  timings.total = performance.now() - t0;

  const refBits = has('quant') ? ((scores.find((s) => s.metricId === 'quant')?.extra as unknown as quant.QuantExtra).refBits) : (opts.refBits ?? null);
  const calibration: CalibrationFacts = {
    texts: n,
    tokens: T,
    tokensPerText: ids.map((x) => x.length),
    textStarts,
    ids,
    pieces: ids.map((x) => x.map((id) => model.tokenizer.piece(id))),
    addBos: opts.ids ? null : (opts.addBos ?? model.tokenizer.addBosDefault),
    truncated,
    maxTokens,
    scored,
    baseNll: scored ? nllSum / scored : NaN,
  };
  return {
    model: { name: spec.name, arch: spec.arch, nLayers: L, dModel: C, vocabSize: V },
    calibration,
    scores,
    agreement,
    lens,
    activationSource: acc ? { ...acc.source } : null,
    options: { metrics: groups, outlierK, owlM, bits: has('quant') ? bits : [], formats: has('quant') ? formats : [], refBits, lensTopK },
    timings,
    scanBackends,
  };
}

/** cos' "without position 0" extras over several texts: leave out the first token of every text. */
function fixNoFirst(s: LayerScores, starts: number[], T: number): void {
  const first = new Set(starts);
  const meanCosNoFirst = s.perToken!.map((row) => {
    let sum = 0;
    let k = 0;
    for (let t = 0; t < T; t++) {
      if (first.has(t)) continue;
      sum += 1 - row[t];
      k++;
    }
    return k ? sum / k : NaN;
  });
  s.extra = { ...s.extra, meanCosNoFirst, biNoFirst: meanCosNoFirst.map((c) => 1 - c) };
}
