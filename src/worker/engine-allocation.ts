// The allocation verbs of the engine, shared by the worker API (the browser's Allocation / Compare /
// Experiments / Export panels through comlink) and the CLI (`layerlab allocate | compare | sweep | export`,
// src/cli/allocate.ts): one implementation, so the page and the CLI produce identical numbers from the
// same model, text and allocation. Each function takes an AllocationHost (the loaded model, its backend,
// a backend factory for modified models, the analysis entry point, progress and cooperative cancel) and a
// plain-data request; results are plain data (structuredClone-safe).
//
//   allocate: strategy (uniform | ranked | reverse | random | solve) -> Allocation JSON (layerlab.allocation/1)
//   compare:  apply an allocation (src/core/allocation/apply-weights.ts; Wanda masks with input norms from the
//             text, core/allocation/wanda-norms.ts), compare modified vs original on one
//             text (src/core/allocation/compare.ts: mean NLL, ppl, KL(base||mod), top-1, per-token KL,
//             prefill/decode tok/s), llama-perplexity-chunked perplexity (--ctx), side-by-side generation
//             from one prompt and seed with the first divergence (as `layerlab compare --prompt`)
//   sweep:    move k% of the blocks to a lower format / drop k% of blocks, attention or MLP sublayers in a
//             metric's order, its reverse and random orders (Layer-Wise Quantization arXiv 2406.17415;
//             LLM-Drop arXiv 2406.15786)
//   export:   json | llama-quantize | peft | csv | gguf

import type { LoadedModel } from '../core/formats/types.ts';
import type { Backend } from '../core/model/backend.ts';
import type { AnalysisResult, AnalyzeRequest } from '../core/analysis/types.ts';
import { parseGguf } from '../core/formats/gguf.ts';
import { modifiedModelGguf } from '../core/formats/gguf-write.ts';
import { chunkedPerplexity, CancelledError, type CancelToken, type PerplexityResult } from '../core/eval/perplexity.ts';
import { generate } from '../core/eval/generate.ts';
import {
  allocationJson, applyAllocation, withInterventions, firstDivergence, blockProblem, compareModels, llamaQuantizeArgs, parseAllocation, peftLoraConfig, random, randomOrder, ranked,
  reverse, scoresCsv, sensitivityFromAnalysis, solutionToAllocation, solveExact, uniform, fromOrder, parseWeightFormat, formatBitsPerWeight,
  allocateParamsStrategy, wantsParamsStrategy,
  type Allocation, type AllocationPlan, type BlockProblemOptions, type Comparison, type DropKind, type OrderOptions, type ParamsStrategyRequest, type TensorReport,
} from '../core/allocation/index.ts';
import { needsWandaNorms, wandaInputNorms } from '../core/allocation/wanda-norms.ts';
import type { ProgressEvent } from './api.ts';

/** What the allocation verbs need from the engine that runs them. */
export interface AllocationHost {
  model: LoadedModel;
  backend: Backend;
  /** A backend of the loaded model's kind (CPU or the same GPU device) for a modified model; the caller disposes it. */
  backendFor(m: LoadedModel): Promise<Backend>;
  /** A layer-importance analysis on the loaded model (Engine.analyze). */
  analyze(req: AnalyzeRequest): Promise<AnalysisResult>;
  /** The files the model was loaded from (the GGUF source of a GGUF export). */
  sourceFiles?: readonly { name: string; bytes: Uint8Array }[];
  progress?: (p: ProgressEvent) => void;
  /** Cooperative cancel, checked between steps. */
  cancelled?: () => boolean;
  /** The text when a request has none (the CLI's --text / --file, read only when a verb needs it). */
  text?: () => string;
  /** Makes the error for a bad request (the CLI's usage error; default a plain Error). */
  usage?: (msg: string) => Error;
}

/** Where the text to measure or evaluate on comes from. */
export interface TextRequest {
  text?: string;
  /** Prepend BOS (default: the tokenizer's own default). */
  addBos?: boolean;
  /** Cut the evaluation / calibration text to this many tokens. */
  maxTokens?: number;
  /** A finished analysis (e.g. the page's importance results) to take the metric scores from instead of measuring again; used when it holds every metric (and format) needed. */
  analysis?: Pick<AnalysisResult, 'scores'>;
}

export type StrategyName = 'uniform' | 'ranked' | 'reverse' | 'random' | 'solve' | 'drank' | 'owl';
/** The strategies of the format knob (the Allocation panel's full list per knob, with drank / owl and the mixed solve, is src/store/allocation.ts strategiesFor). */
export const STRATEGIES: readonly StrategyName[] = ['uniform', 'ranked', 'reverse', 'random', 'solve'];

export interface AllocateRequest extends TextRequest {
  strategy: StrategyName;
  /** uniform: the format of every block; ranked/reverse/random: the format of the blocks kept high (default F32). */
  format?: string;
  /** ranked/reverse/random: the lower format and how many blocks move to it. */
  low?: string;
  n?: number;
  /** ranked/reverse: the metric id whose ranking orders the blocks. */
  metric?: string;
  /** The budget spec (parseBudget): "bpw=X", "bytes=N", "drop-blocks=N", comma-separated. */
  budget?: string;
  /** ranked/reverse/random: drop `what` in the last `n` blocks of the order (the page's drop knobs; the CLI's --budget drop-blocks=N is { what: 'block' }). */
  drop?: { what: DropKind; n: number };
  /** random: the seed (default 0). */
  seed?: number;
  /** solve: the candidate formats (default Q8_0,Q6_K,Q5_0,Q4_K,Q4_0,Q3_K,Q2_K; none under params=R). */
  formats?: string[];
  /** solve: rank options, comma-separated fractions of the break-even rank (the CLI's --ranks), and drop kinds offered to the solver ("attn,mlp,block", the CLI's --drop). */
  ranks?: string;
  dropKinds?: string;
  /** owl: lambda and sparsity method (wanda | magnitude | 2:4). */
  lambda?: number;
  sparsityMethod?: string;
}

export interface PlanFallback { name: string; from: string; to: string; reason: string }

export interface AllocateResult {
  allocation: Allocation;
  /** allocationJson(allocation): the text the CLI writes. */
  json: string;
  fallbacks: PlanFallback[];
  /** Metric ids measured or taken from the given analysis. */
  scoresUsed?: string;
}

export interface GenerationRequest {
  prompt: string;
  /** Tokens to generate. */
  tokens: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
}

export interface CompareRequest extends TextRequest {
  /** The allocation JSON (validated here; errors name the field and what is allowed). */
  allocation: unknown;
  /** Single-token decode steps to time (default min(16, T - 1)). */
  decodeTokens?: number;
  /** llama-perplexity chunked perplexity with this context on the whole text (both models). */
  ctx?: number;
  /** Side-by-side generation from one prompt and seed. */
  generation?: GenerationRequest;
}

export interface PplSide {
  perplexity: number;
  meanNll: number;
  nllStdErr: number;
  perChunk: number[];
}

export interface GenSide {
  ids: number[];
  text: string;
  /** Vocabulary piece of each generated id (the page marks the divergence on them). */
  pieces: string[];
}

export interface SideBySide {
  prompt: string;
  promptIds: number[];
  base: GenSide;
  modified: GenSide;
  /** Index into the generated ids of the first token that differs, or null when they are identical. */
  firstDivergence: number | null;
}

export interface CompareResult extends Comparison {
  chunked: { ctx: number; chunks: number; base: PplSide; modified: PplSide } | null;
  generation: SideBySide | null;
  /** Tensors the allocation changed (what was done to each). */
  tensors: TensorReport[];
  fallbacks: PlanFallback[];
}

export interface SweepRequest extends TextRequest {
  /** Drop sweep: the kinds dropped (block, attn, mlp); otherwise a format sweep from `from` to `to`. */
  drop?: DropKind[];
  from?: string;
  to?: string;
  metric: string;
  /** Percent step of k (default 20). */
  step?: number;
  /** Seeds of the random orders (default [0]). */
  seeds?: number[];
}

export interface SweepPoint {
  percent: number;
  moved: number;
  meanNll: number;
  kl: number;
  top1: number;
  /** Stored bits per weight of all 2-D matrices (plain intN are resident as F32, so they count 32). */
  bitsPerWeight: number;
  /** Bits per weight of the formatted tensors (the blocks' linear weights) in their formats, after fallbacks; intN with its scales. */
  formatBitsPerWeight: number;
}

export interface SweepCurve {
  order: string;
  drop: DropKind | null;
  /** The order, most important first. */
  blocks: number[];
  points: SweepPoint[];
}

export interface SweepResult {
  from: string | null;
  to: string | null;
  drop: DropKind[] | null;
  metric: string;
  tokens: number;
  curves: SweepCurve[];
}

export type ExportTarget = 'json' | 'llama-quantize' | 'peft' | 'csv' | 'gguf';
export const EXPORT_TARGETS: readonly ExportTarget[] = ['json', 'llama-quantize', 'peft', 'csv', 'gguf'];

export interface ExportRequest extends TextRequest {
  allocation: unknown;
  to: ExportTarget;
  /** llama-quantize: the input model path written into the command. */
  input?: string;
  /** csv: the metrics to measure (default the allocation's strategy.metric). */
  metrics?: string[];
}

export interface ExportResult {
  to: ExportTarget;
  /** Text exports (json, llama-quantize, peft, csv) as text; gguf as bytes. */
  text?: string;
  bytes?: Uint8Array;
  /** Size in bytes of what would be written. */
  size: number;
  extra: Record<string, unknown>;
}

const usageOf = (h: AllocationHost) => (m: string): Error => (h.usage ? h.usage(m) : new Error(m));

function check(h: AllocationHost): void {
  if (h.cancelled?.()) throw new CancelledError();
}

function cancelToken(h: AllocationHost): CancelToken {
  return { get cancelled() { return h.cancelled?.() ?? false; }, set cancelled(_v: boolean) { /* read-only view */ } };
}

/** --budget: comma-separated bpw=X, bytes=N, drop-blocks=N. */
export function parseBudget(s: string | undefined, usage: (m: string) => Error): { bitsPerWeight?: number; bytes?: number; dropBlocks?: number } {
  const out: { bitsPerWeight?: number; bytes?: number; dropBlocks?: number } = {};
  if (s === undefined) return out;
  for (const part of s.split(',').map((x) => x.trim()).filter(Boolean)) {
    const m = /^(bpw|bytes|drop-blocks)=([0-9.eE+]+)$/.exec(part);
    const v = m ? Number(m[2]) : NaN;
    if (!m || !Number.isFinite(v) || v < 0) throw usage(`--budget: "${part}" is not bpw=X, bytes=N or drop-blocks=N`);
    if (m[1] === 'bpw') out.bitsPerWeight = v;
    else if (!Number.isInteger(v)) throw usage(`--budget: ${m[1]} must be an integer, got ${m[2]}`);
    else if (m[1] === 'bytes') out.bytes = v;
    else out.dropBlocks = v;
  }
  if (out.bitsPerWeight !== undefined && out.bytes !== undefined) throw usage('--budget: give bpw=X or bytes=N, not both');
  return out;
}

/** A format option: GGUF names as they are; a bare "intN" means intN-g32-asym (the CLI's shorthand). Undefined stays undefined. */
export function normalizeFormat(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  return /^int\d+$/i.test(raw.trim()) ? `${raw.trim().toLowerCase()}-g32-asym` : raw;
}

/** Throws `usage` for a string that is not a weight format, naming the option `k`. */
export function checkFormat(k: string, v: string | undefined, usage: (m: string) => Error): void {
  if (v !== undefined && !parseWeightFormat(v)) throw usage(`--${k}: unknown weight format "${v}" (GGUF Q8_0, Q6_K, Q5_0, Q5_1, Q4_0, Q4_1, Q4_K, Q3_K, Q2_K, F16, F32, or intN-gG-sym|asym with N 2..8 and G 32|64|128, or intN for intN-g32-asym)`);
}

function needText(h: AllocationHost, r: TextRequest): string {
  if (r.text !== undefined) return r.text;
  if (h.text) return h.text();
  throw usageOf(h)('give an evaluation / calibration text');
}

/** Token ids of the evaluation text, cut to maxTokens and refused past the context length. */
export function evalIds(h: AllocationHost, r: TextRequest): number[] {
  const { model } = h;
  let ids = model.tokenizer.encode(needText(h, r), { addBos: r.addBos });
  if (r.maxTokens !== undefined) ids = ids.slice(0, r.maxTokens);
  if (ids.length > model.spec.contextLength) {
    throw usageOf(h)(`the text has ${ids.length} tokens, more than the context length ${model.spec.contextLength}: pass --max-tokens N or --context N`);
  }
  return ids;
}

/**
 * The analysis with `metrics` (and, for quant, the GGUF `formats`): the request's own analysis when it has
 * every metric id (and format) asked for, else a fresh one on the request's text.
 */
export async function analysisFor(h: AllocationHost, r: TextRequest, metrics: string[], formats?: string[]): Promise<Pick<AnalysisResult, 'scores'>> {
  const given = r.analysis;
  if (given) {
    const ids = new Set(given.scores.map((s) => s.metricId));
    const table = formats ? sensitivityFromAnalysis(given) : null;
    if (metrics.every((m) => ids.has(m)) && (!table || formats!.every((f) => table.formats[f.toUpperCase()]))) return given;
  }
  return h.analyze({ texts: [needText(h, r)], metrics, addBos: r.addBos, formats, bits: formats ? [] : undefined, maxTokens: r.maxTokens });
}

/** `layerlab allocate`: a strategy and its options -> an Allocation (validated against the model). */
export async function allocate(h: AllocationHost, req: AllocateRequest): Promise<AllocateResult> {
  const usage = usageOf(h);
  const spec = h.model.spec;
  const { strategy } = req;
  const format = normalizeFormat(req.format);
  const low = normalizeFormat(req.low);
  checkFormat('format', format, usage);
  checkFormat('low', low, usage);
  const finish = (al: Allocation, used: string | undefined): AllocateResult => {
    const json = allocationJson(al);
    const { plan } = parseAllocation(JSON.parse(json), spec);
    h.progress?.({ done: 1, total: 1, what: `allocate (${strategy})` });
    return { allocation: al, json, fallbacks: plan?.fallbacks ?? [], scoresUsed: used };
  };
  let a: Allocation;
  let scoresUsed: string | undefined;
  h.progress?.({ done: 0, total: 1, what: `allocate (${strategy})` });
  // drank / owl, and solve with params=R, rank options or drop kinds: core/allocation/param-strategies.ts (the CLI's path too)
  const pr: ParamsStrategyRequest = {
    strategy, budget: req.budget, ranks: req.ranks, drop: req.dropKinds, formats: req.formats?.join(','), lambda: req.lambda, sparsityMethod: req.sparsityMethod,
  };
  if (wantsParamsStrategy(pr)) {
    const r = await allocateParamsStrategy({
      model: h.model,
      backend: h.backend,
      backendFor: (m) => h.backendFor(m),
      analyze: (metrics, formats) => analysisFor(h, req, metrics, formats),
      ids: () => {
        const ids = h.model.tokenizer.encode(needText(h, req), { addBos: req.addBos });
        return (req.maxTokens !== undefined ? ids.slice(0, req.maxTokens) : ids).slice(0, h.model.spec.contextLength);
      },
      usage,
    }, pr);
    return finish(r.allocation, r.scoresUsed);
  }
  const budget = parseBudget(req.budget, usage);
  if (strategy === 'uniform') {
    if (!format) throw usage('--strategy uniform needs --format FMT');
    if (req.drop) throw usage('a drop needs an order: strategy ranked, reverse or random');
    a = uniform(spec, format);
  } else if (strategy === 'ranked' || strategy === 'reverse' || strategy === 'random') {
    const opts: OrderOptions = {};
    if (low !== undefined) {
      if (req.n === undefined) throw usage('missing --n');
      opts.formats = { high: format ?? 'F32', low, nLow: req.n };
    } else if (req.n !== undefined) throw usage('--n counts the blocks moved to --low FMT: give --low too');
    if (budget.dropBlocks !== undefined) opts.drop = { what: 'block', n: budget.dropBlocks };
    if (req.drop) opts.drop = { what: req.drop.what, n: req.drop.n };
    if (!opts.formats && !opts.drop) throw usage(`--strategy ${strategy} needs --low FMT --n N (and --format FMT for the other blocks, default F32) and/or --budget drop-blocks=N`);
    if (strategy === 'random') {
      a = random(spec, req.seed ?? 0, opts);
    } else {
      const metric = req.metric;
      if (!metric) throw usage(`--strategy ${strategy} needs --metric ID (and --text or --file to measure it on)`);
      const r = await analysisFor(h, req, [metric]);
      const s = r.scores.find((x) => x.metricId === metric) ?? r.scores[0];
      if (!s) throw new Error(`the analysis returned no scores for metric ${metric}`);
      scoresUsed = s.metricId;
      a = strategy === 'ranked' ? ranked(spec, s, opts) : reverse(spec, s, opts);
    }
  } else if (strategy === 'solve') {
    if (budget.bitsPerWeight === undefined && budget.bytes === undefined) throw usage('--strategy solve needs --budget bpw=X or bytes=N (optionally ,drop-blocks=N)');
    const formats = (req.formats ?? ['Q8_0', 'Q6_K', 'Q5_0', 'Q4_K', 'Q4_0', 'Q3_K', 'Q2_K']).map((x) => x.trim()).filter(Boolean);
    for (const f of formats) checkFormat('formats', f, usage);
    const metrics = ['quant'];
    if (budget.dropBlocks) metrics.push('ablation');
    const r = await analysisFor(h, req, metrics, formats);
    check(h);
    const table = sensitivityFromAnalysis(r);
    const o: BlockProblemOptions = {
      formats: formats.filter((f) => table.formats[f.toUpperCase()]).map((f) => f.toUpperCase()),
      budget: budget.bitsPerWeight !== undefined ? { bitsPerWeight: budget.bitsPerWeight } : { bytes: budget.bytes! },
    };
    if (budget.dropBlocks) { o.drops = ['block']; o.maxDrops = { block: budget.dropBlocks }; }
    const p = blockProblem(spec, table, o);
    const sol = solveExact(p);
    if (!sol.feasible) throw new Error(`no plan fits the budget ${req.budget}: the cheapest choice costs more (try a larger budget or more formats)`);
    a = solutionToAllocation(spec, p, sol, { budgetSpec: req.budget, formats: o.formats });
    scoresUsed = metrics.join(',');
  } else {
    throw usage(`--strategy must be uniform, ranked, reverse, random or solve, got "${String(strategy)}"`);
  }
  return finish(a, scoresUsed);
}

/**
 * Side-by-side generation: the same prompt and sampler seed on the base backend and on the modified one
 * with the allocation's interventions (each run gets its own Sampler, so both draw the same random
 * sequence).
 */
async function sideBySide(h: AllocationHost, g: GenerationRequest, addBos: boolean | undefined, base: Backend, modified: Backend): Promise<SideBySide> {
  const tok = h.model.tokenizer;
  const promptIds = tok.encode(g.prompt, { addBos });
  const o = { maxTokens: g.tokens, temperature: g.temperature ?? 0, topK: g.topK, topP: g.topP, seed: g.seed ?? 0, cancel: cancelToken(h) };
  const gb = await generate(base, promptIds, o);
  const gm = await generate(modified, promptIds, o);
  const side = (ids: number[]): GenSide => ({ ids, text: tok.decode(ids), pieces: ids.map((i) => tok.piece(i)) });
  return { prompt: g.prompt, promptIds, base: side(gb.generatedIds), modified: side(gm.generatedIds), firstDivergence: firstDivergence(gb.generatedIds, gm.generatedIds) };
}

/** `layerlab compare`: the allocation applied to the loaded model, compared with the original on the text. */
export async function compare(h: AllocationHost, req: CompareRequest): Promise<CompareResult> {
  const { model, backend } = h;
  const steps = 3 + (req.ctx !== undefined ? 1 : 0) + (req.generation ? 1 : 0);
  let step = 0;
  const tick = (what: string): void => { check(h); h.progress?.({ done: step++, total: steps, what }); };
  tick('apply allocation');
  const ids = evalIds(h, req);
  // Wanda masks score |W_ij| ||X_j||: the input norms come from the evaluation text on the base model
  // (without them apply-weights.ts would fall back to per-row magnitude).
  const inputNorms = needsWandaNorms(req.allocation, model.spec) ? await wandaInputNorms(backend, model, ids) : undefined;
  check(h);
  const applied = applyAllocation(model, req.allocation, { inputNorms });
  tick('upload modified weights');
  const mod = await h.backendFor(applied.model);
  try {
    tick('compare on the text');
    const r = await compareModels(backend, mod, ids, { interventions: applied.interventions, size: applied.size, decodeTokens: req.decodeTokens, cancel: cancelToken(h) });
    // llama-perplexity style chunks (ctx) on the whole text, both models.
    let chunked: CompareResult['chunked'] = null;
    if (req.ctx !== undefined) {
      tick('chunked perplexity');
      const all = model.tokenizer.encode(needText(h, req));
      const o = { ctx: req.ctx, bosId: model.tokenizer.bosId, addBos: model.tokenizer.addBosDefault, cancel: cancelToken(h) };
      const pb = await chunkedPerplexity(backend, all, o);
      const pm = await chunkedPerplexity(withInterventions(mod, applied.interventions), all, o);
      const side = (p: PerplexityResult): PplSide => ({ perplexity: p.perplexity, meanNll: p.meanNll, nllStdErr: p.nllStdErr, perChunk: p.perChunk });
      chunked = { ctx: req.ctx, chunks: pb.chunks, base: side(pb), modified: side(pm) };
    }
    let generation: SideBySide | null = null;
    if (req.generation) {
      tick('generation side by side');
      generation = await sideBySide(h, req.generation, req.addBos, backend, withInterventions(mod, applied.interventions));
    }
    h.progress?.({ done: steps, total: steps, what: 'compare' });
    return { ...r, chunked, generation, tensors: applied.tensors.filter((t) => t.notes.length > 0), fallbacks: applied.plan.fallbacks };
  } finally {
    mod.dispose();
  }
}

/** `layerlab export`: the allocation as JSON, llama-quantize arguments, a PEFT fragment, metric CSV or the modified GGUF. */
export async function exportAllocation(h: AllocationHost, req: ExportRequest): Promise<ExportResult> {
  const usage = usageOf(h);
  const { model } = h;
  const { to } = req;
  const { allocation, plan } = parseAllocation(req.allocation, model.spec);
  let text: string | undefined;
  let bytes: Uint8Array | undefined;
  let extra: Record<string, unknown> = {};
  if (to === 'json') text = allocationJson(allocation);
  else if (to === 'llama-quantize') {
    const r = llamaQuantizeArgs(plan!, { input: req.input });
    text = r.command + '\n';
    extra = { args: r.args, unsupported: r.unsupported };
  } else if (to === 'peft') text = JSON.stringify(peftLoraConfig(model.spec, plan!), null, 2) + '\n';
  else if (to === 'csv') {
    const metrics = req.metrics ?? (typeof allocation.strategy?.metric === 'string' ? allocation.strategy.metric : '').split(',').filter(Boolean);
    if (metrics.length === 0) throw usage('--to csv needs --metrics LIST (and --text or --file) to measure');
    text = scoresCsv((await analysisFor(h, req, metrics)).scores);
  } else if (to === 'gguf') {
    const src = h.sourceFiles?.find((f) => f.name.toLowerCase().endsWith('.gguf'));
    // Wanda masks need input norms: from the request's text when there is one (else per-row magnitude, noted)
    let inputNorms: Record<string, Float32Array> | undefined;
    if (needsWandaNorms(allocation, model.spec)) {
      let ids: number[] | null = null;
      try { ids = evalIds(h, req); } catch { /* no usable text: the fallback is noted below */ }
      if (ids && ids.length) inputNorms = await wandaInputNorms(h.backend, model, ids);
    }
    const applied = applyAllocation(model, allocation, { inputNorms });
    const r = modifiedModelGguf(src ? { file: parseGguf(src.bytes), bytes: src.bytes } : null, applied.model, applied.interventions);
    const unsupported = applied.plan.kvBits.map((k) => `KV cache bits of block ${k.layer} (K ${k.k}, V ${k.v}): a runtime setting, not stored in GGUF`);
    bytes = r.bytes;
    const wandaNotes = applied.tensors.filter((t) => t.notes.some((n) => /no input norms given/.test(n))).map((t) => `${t.name}: Wanda mask without input norms (give a text): per-row magnitude`);
    extra = { blockCount: r.blockCount, renumber: r.renumber, tensorCount: r.tensorCount, notes: [...r.notes, ...wandaNotes], fallbacks: applied.plan.fallbacks, unsupported, size: applied.size };
  } else throw usage(`--to must be json, llama-quantize, peft, csv or gguf, got "${String(to)}"`);
  const size = text !== undefined ? new TextEncoder().encode(text).byteLength : bytes!.byteLength;
  return { to, text, bytes, size, extra };
}

/** Format bits per weight over the tensors the plan gives a format (formatBitsPerWeight of each, weighted by its values). */
export function planBits(plan: AllocationPlan): number {
  let bits = 0;
  let n = 0;
  for (const t of plan.tensors) {
    if (!t.format) continue;
    const k = t.shape[0] * t.shape[1];
    bits += formatBitsPerWeight(t.format) * k;
    n += k;
  }
  return bits / n;
}

/**
 * sweep: for k = 0, step, ..., 100 % of the blocks, the allocation "round(k L / 100) blocks at `to`, the
 * rest at `from`" (or, with `drop`, "round(k L / 100) blocks' block / attention / MLP dropped"), the
 * moved blocks taken from the end of the order (fromOrder in strategies.ts): metric order (least important
 * moved first), its reverse, and random orders for each seed (the Layer-Wise Quantization and LLM-Drop
 * experiments).
 */
export async function sweep(h: AllocationHost, req: SweepRequest): Promise<SweepResult> {
  const usage = usageOf(h);
  const { model, backend } = h;
  const spec = model.spec;
  const drops = req.drop ?? [];
  for (const d of drops) if (!['block', 'attn', 'mlp'].includes(d)) throw usage(`--drop must be a comma-separated list of block, attn, mlp; got "${drops.join(',')}"`);
  if (drops.length && (req.to !== undefined || req.from !== undefined)) throw usage('give --to FMT (format sweep) or --drop KINDS (drop sweep), not both');
  const fromN = normalizeFormat(req.from);
  const toN = normalizeFormat(req.to);
  checkFormat('from', fromN, usage);
  checkFormat('to', toN, usage);
  const from = drops.length ? null : fromN ?? 'Q8_0';
  if (!drops.length && toN === undefined) throw usage('missing --to');
  const to = drops.length ? null : toN!;
  const metric = req.metric;
  if (!metric) throw usage('missing --metric');
  const step = req.step ?? 20;
  if (!(step > 0 && step <= 100)) throw usage(`--step must be in (0, 100], got ${step}`);
  const seeds = req.seeds ?? [0];
  for (const v of seeds) if (!Number.isInteger(v)) throw usage(`--seeds must be a comma-separated list of integers, got "${seeds.join(',')}"`);
  const ids = evalIds(h, req);
  const r = await analysisFor(h, req, [metric]);
  const s = r.scores.find((x) => x.metricId === metric) ?? r.scores[0];
  if (!s) throw new Error(`the analysis returned no scores for metric ${metric}`);
  const orders: { name: string; order: number[] }[] = [
    { name: metric, order: s.ranking.slice() },
    { name: 'reverse', order: s.ranking.slice().reverse() },
    ...seeds.map((seed) => ({ name: `random:${seed}`, order: randomOrder(spec.nLayers, seed) })),
  ];
  const ks: number[] = [];
  for (let k = 0; k < 100 + 1e-9; k += step) ks.push(Math.round(k * 1e6) / 1e6);
  if (ks[ks.length - 1] !== 100) ks.push(100);
  const L = spec.nLayers;
  const curves: SweepCurve[] = [];
  const cache = new Map<string, Omit<SweepPoint, 'percent' | 'moved'>>();
  const kinds = drops.length ? drops : [null];
  const total = kinds.length * orders.length * ks.length;
  let done = 0;
  for (const what of kinds) {
    for (const o of orders) {
      const points: SweepPoint[] = [];
      for (const k of ks) {
        check(h);
        h.progress?.({ done: done++, total, what: `sweep ${what ? `drop ${what}` : `${from} -> ${to}`}, ${o.name}, ${k}%` });
        const n = Math.round((k * L) / 100);
        const moved = o.order.slice(L - n).sort((x, y) => x - y);
        const key = `${what ?? ''}:${moved.join(',')}`;
        let m = cache.get(key);
        if (!m) {
          const opts: OrderOptions = what ? { drop: { what, n } } : { formats: { high: from!, low: to!, nLow: n } };
          const ap = applyAllocation(model, fromOrder(spec, o.order, opts, { name: 'sweep' }));
          // A drop-only allocation changes no weight: the base backend runs it with the interventions.
          const be = what ? backend : await h.backendFor(ap.model);
          try {
            const cmp = await compareModels(backend, be, ids, { interventions: ap.interventions, decodeTokens: 0, cancel: cancelToken(h) });
            m = { meanNll: cmp.modified.meanNll, kl: cmp.kl, top1: cmp.top1, bitsPerWeight: ap.size.matrixBitsPerWeight, formatBitsPerWeight: planBits(ap.plan) };
          } finally {
            if (be !== backend) be.dispose();
          }
          cache.set(key, m);
        }
        points.push({ percent: k, moved: n, ...m });
      }
      curves.push({ order: o.name, drop: what, blocks: o.order, points });
    }
  }
  h.progress?.({ done: total, total, what: 'sweep' });
  return { from, to, drop: drops.length ? drops : null, metric, tokens: ids.length, curves };
}
