// The allocation verbs of the CLI: allocate (strategy -> Allocation JSON), compare (apply an allocation,
// modified vs original on a text), export (json | llama-quantize | peft | csv | gguf) and sweep (move k%
// of the blocks from one format to a lower one in metric / reverse / random order). main.ts parses the
// arguments and loads the model; these functions get a small context and return what to print.
import { readFileSync, writeFileSync } from 'node:fs';
import type { Engine } from '../worker/engine.ts';
import type { AnalysisResult } from '../worker/api.ts';
import type { NamedBytes } from './files.ts';
import { parseGguf } from '../core/formats/gguf.ts';
import { modifiedModelGguf } from '../core/formats/gguf-write.ts';
import { chunkedPerplexity, type PerplexityResult } from '../core/eval/perplexity.ts';
import { generate } from '../core/eval/generate.ts';
import type { Backend } from '../core/model/backend.ts';
import {
  allocationJson, applyAllocation, withInterventions, firstDivergence, markDivergence, blockProblem, compareModels, llamaQuantizeArgs, parseAllocation, peftLoraConfig, random, randomOrder, ranked,
  reverse, scoresCsv, sensitivityFromAnalysis, solutionToAllocation, solveExact, uniform, fromOrder, parseWeightFormat, formatBitsPerWeight,
  type Allocation, type AllocationPlan, type BlockProblemOptions, type DropKind, type OrderOptions,
} from '../core/allocation/index.ts';

export interface CliContext {
  engine: Engine;
  modelPath: string;
  files: NamedBytes[];
  str(k: string, required?: boolean): string | undefined;
  num(k: string, required?: boolean, integer?: boolean): number | undefined;
  /** --text or --file contents (throws a usage error without either). */
  text(): string;
  addBos?: boolean;
  usage(msg: string): Error;
}

export interface CliResult {
  human: string;
  data: unknown;
}

interface PplSide {
  perplexity: number;
  meanNll: number;
  nllStdErr: number;
  perChunk: number[];
}

export const ALLOCATION_COMMANDS = ['allocate', 'compare', 'export', 'sweep'];

/** Token ids of the evaluation text, cut to --max-tokens and refused past the context length. */
function evalIds(c: CliContext): number[] {
  const { model } = c.engine.current;
  let ids = model.tokenizer.encode(c.text(), { addBos: c.addBos });
  const max = c.num('max-tokens', false, true);
  if (max !== undefined) ids = ids.slice(0, max);
  if (ids.length > model.spec.contextLength) {
    throw c.usage(`the text has ${ids.length} tokens, more than the context length ${model.spec.contextLength}: pass --max-tokens N or --context N`);
  }
  return ids;
}

async function analyzeFor(c: CliContext, metrics: string[], formats?: string[]): Promise<AnalysisResult> {
  return c.engine.analyze({ texts: [c.text()], metrics, addBos: c.addBos, formats, bits: formats ? [] : undefined, maxTokens: c.num('max-tokens', false, true) });
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

/** A format option: GGUF names as they are; a bare "intN" means intN-g32-asym (the CLI's shorthand). */
function formatOpt(c: CliContext, k: string): string | undefined {
  const raw = c.str(k);
  if (raw === undefined) return undefined;
  const v = /^int\d+$/i.test(raw.trim()) ? `${raw.trim().toLowerCase()}-g32-asym` : raw;
  checkFormat(c, k, v);
  return v;
}

function checkFormat(c: CliContext, k: string, v: string | undefined): void {
  if (v !== undefined && !parseWeightFormat(v)) throw c.usage(`--${k}: unknown weight format "${v}" (GGUF Q8_0, Q6_K, Q5_0, Q5_1, Q4_0, Q4_1, Q4_K, Q3_K, Q2_K, F16, F32, or intN-gG-sym|asym with N 2..8 and G 32|64|128, or intN for intN-g32-asym)`);
}

export async function allocateCommand(c: CliContext): Promise<CliResult> {
  const { model } = c.engine.current;
  const spec = model.spec;
  const strategy = c.str('strategy', true)!;
  const out = c.str('out', true)!;
  const format = formatOpt(c, 'format');
  const low = formatOpt(c, 'low');
  const budget = parseBudget(c.str('budget'), c.usage);
  let a: Allocation;
  let scoresUsed: string | undefined;
  if (strategy === 'uniform') {
    if (!format) throw c.usage('--strategy uniform needs --format FMT');
    a = uniform(spec, format);
  } else if (strategy === 'ranked' || strategy === 'reverse' || strategy === 'random') {
    const opts: OrderOptions = {};
    if (low !== undefined) {
      const n = c.num('n', true, true)!;
      opts.formats = { high: format ?? 'F32', low, nLow: n };
    } else if (c.str('n') !== undefined) throw c.usage('--n counts the blocks moved to --low FMT: give --low too');
    if (budget.dropBlocks !== undefined) opts.drop = { what: 'block', n: budget.dropBlocks };
    if (!opts.formats && !opts.drop) throw c.usage(`--strategy ${strategy} needs --low FMT --n N (and --format FMT for the other blocks, default F32) and/or --budget drop-blocks=N`);
    if (strategy === 'random') {
      a = random(spec, c.num('seed', false, true) ?? 0, opts);
    } else {
      const metric = c.str('metric');
      if (!metric) throw c.usage(`--strategy ${strategy} needs --metric ID (and --text or --file to measure it on)`);
      const r = await analyzeFor(c, [metric]);
      const s = r.scores.find((x) => x.metricId === metric) ?? r.scores[0];
      if (!s) throw new Error(`the analysis returned no scores for metric ${metric}`);
      scoresUsed = s.metricId;
      a = strategy === 'ranked' ? ranked(spec, s, opts) : reverse(spec, s, opts);
    }
  } else if (strategy === 'solve') {
    if (budget.bitsPerWeight === undefined && budget.bytes === undefined) throw c.usage('--strategy solve needs --budget bpw=X or bytes=N (optionally ,drop-blocks=N)');
    const formats = (c.str('formats') ?? 'Q8_0,Q6_K,Q5_0,Q4_K,Q4_0,Q3_K,Q2_K').split(',').map((x) => x.trim()).filter(Boolean);
    for (const f of formats) checkFormat(c, 'formats', f);
    const metrics = ['quant'];
    if (budget.dropBlocks) metrics.push('ablation');
    const r = await analyzeFor(c, metrics, formats);
    const table = sensitivityFromAnalysis(r);
    const o: BlockProblemOptions = {
      formats: formats.filter((f) => table.formats[f.toUpperCase()]).map((f) => f.toUpperCase()),
      budget: budget.bitsPerWeight !== undefined ? { bitsPerWeight: budget.bitsPerWeight } : { bytes: budget.bytes! },
    };
    if (budget.dropBlocks) { o.drops = ['block']; o.maxDrops = { block: budget.dropBlocks }; }
    const p = blockProblem(spec, table, o);
    const sol = solveExact(p);
    if (!sol.feasible) throw new Error(`no plan fits the budget ${c.str('budget')}: the cheapest choice costs more (try a larger budget or more formats)`);
    a = solutionToAllocation(spec, p, sol, { budgetSpec: c.str('budget'), formats: o.formats });
    scoresUsed = metrics.join(',');
  } else {
    throw c.usage(`--strategy must be uniform, ranked, reverse, random or solve, got "${strategy}"`);
  }
  const json = allocationJson(a);
  const { plan } = parseAllocation(JSON.parse(json), spec);
  writeFileSync(out, json);
  const layers = Object.entries(a.layers ?? {}).map(([l, e]) => `  block ${l}: ${[e.format, e.drop ? `drop ${e.drop}` : ''].filter(Boolean).join(', ')}`);
  return {
    human: [`wrote ${out} (strategy ${strategy}${scoresUsed ? `, measured ${scoresUsed}` : ''})`, ...layers, ...(plan?.fallbacks ?? []).map((f) => `  fallback ${f.name}: ${f.from} -> ${f.to} (${f.reason})`)].join('\n'),
    data: { out, allocation: a, fallbacks: plan?.fallbacks ?? [] },
  };
}

function readAlloc(c: CliContext): unknown {
  const f = c.str('alloc', true)!;
  try {
    return JSON.parse(readFileSync(f, 'utf8'));
  } catch (e) {
    throw new Error(`--alloc ${f}: ${(e as Error).message}`);
  }
}

interface GenSide {
  ids: number[];
  text: string;
}

export interface SideBySide {
  prompt: string;
  promptIds: number[];
  base: GenSide;
  modified: GenSide;
  /** Index into the generated ids of the first token that differs, or null when they are identical. */
  firstDivergence: number | null;
}

/**
 * compare --prompt TEXT --tokens N [--temperature T --top-k K --top-p P --seed S]: the same prompt and
 * sampler seed on the base backend and on the modified one with the allocation's interventions (each run
 * gets its own Sampler, so both draw the same random sequence). Null without --prompt.
 */
async function sideBySide(c: CliContext, base: Backend, modified: Backend): Promise<SideBySide | null> {
  const prompt = c.str('prompt');
  if (prompt === undefined) {
    for (const k of ['tokens', 'temperature', 'top-k', 'top-p', 'seed']) if (c.str(k) !== undefined) throw c.usage(`--${k} needs --prompt TEXT (side-by-side generation)`);
    return null;
  }
  const tok = c.engine.current.model.tokenizer;
  const promptIds = tok.encode(prompt, { addBos: c.addBos });
  const o = {
    maxTokens: c.num('tokens', true, true)!,
    temperature: c.num('temperature') ?? 0,
    topK: c.num('top-k', false, true),
    topP: c.num('top-p'),
    seed: c.num('seed', false, true) ?? 0,
  };
  const gb = await generate(base, promptIds, o);
  const gm = await generate(modified, promptIds, o);
  const side = (ids: number[]): GenSide => ({ ids, text: tok.decode(ids) });
  return { prompt, promptIds, base: side(gb.generatedIds), modified: side(gm.generatedIds), firstDivergence: firstDivergence(gb.generatedIds, gm.generatedIds) };
}

export async function compareCommand(c: CliContext): Promise<CliResult> {
  const { model, backend } = c.engine.current;
  const applied = applyAllocation(model, readAlloc(c));
  const ids = evalIds(c);
  const mod = await c.engine.backendFor(applied.model);
  try {
    const r = await compareModels(backend, mod, ids, { interventions: applied.interventions, size: applied.size, decodeTokens: c.num('decode-tokens', false, true) });
    // llama-perplexity style chunks (--ctx N) on the whole text, both models.
    const ctx = c.num('ctx', false, true);
    let chunked: { ctx: number; chunks: number; base: PplSide; modified: PplSide } | null = null;
    if (ctx !== undefined) {
      const all = model.tokenizer.encode(c.text());
      const o = { ctx, bosId: model.tokenizer.bosId, addBos: model.tokenizer.addBosDefault };
      const pb = await chunkedPerplexity(backend, all, o);
      const pm = await chunkedPerplexity(withInterventions(mod, applied.interventions), all, o);
      const side = (p: PerplexityResult): PplSide => ({ perplexity: p.perplexity, meanNll: p.meanNll, nllStdErr: p.nllStdErr, perChunk: p.perChunk });
      chunked = { ctx, chunks: pb.chunks, base: side(pb), modified: side(pm) };
    }
    const generation = await sideBySide(c, backend, withInterventions(mod, applied.interventions));
    const tok = model.tokenizer;
    const genLines = generation ? [
      `generation (${generation.base.ids.length} tokens; ${generation.firstDivergence === null ? 'identical' : `first divergence at generated token ${generation.firstDivergence}, marked |`}):`,
      `  prompt:   ${JSON.stringify(generation.prompt)}`,
      `  base:     ${JSON.stringify(markDivergence(generation.base.ids, generation.firstDivergence, (x) => tok.decode(x)))}`,
      `  modified: ${JSON.stringify(markDivergence(generation.modified.ids, generation.firstDivergence, (x) => tok.decode(x)))}`,
    ] : [];
    const fallbacks = applied.plan.fallbacks;
    const changed = applied.tensors.filter((t) => t.notes.length > 0);
    const f = (x: number, d = 4) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
    const human = [
      `tokens ${r.tokens} (${r.scored} scored)`,
      `base:     NLL ${f(r.base.meanNll, 6)}  ppl ${f(r.base.ppl)}  prefill ${f(r.base.prefillTokensPerSecond, 1)} tok/s  decode ${f(r.base.decodeTokensPerSecond, 1)} tok/s`,
      `modified: NLL ${f(r.modified.meanNll, 6)}  ppl ${f(r.modified.ppl)}  prefill ${f(r.modified.prefillTokensPerSecond, 1)} tok/s  decode ${f(r.modified.decodeTokensPerSecond, 1)} tok/s`,
      `KL(base||modified) ${f(r.kl, 6)} nats/token; top-1 agreement ${(r.top1 * 100).toFixed(2)}%`,
      ...(chunked ? [`chunked perplexity (ctx ${chunked.ctx}, ${chunked.chunks} chunks): base ${f(chunked.base.perplexity)} +/- ${f(chunked.base.perplexity * chunked.base.nllStdErr, 5)}, modified ${f(chunked.modified.perplexity)} +/- ${f(chunked.modified.perplexity * chunked.modified.nllStdErr, 5)}`] : []),
      `resident bytes ${applied.size.residentBytes.toLocaleString('en-US')} (base ${applied.size.baseResidentBytes.toLocaleString('en-US')}); bits/weight ${f(applied.size.bitsPerWeight, 3)} (matrices ${f(applied.size.matrixBitsPerWeight, 3)})`,
      ...(r.interventions.length ? [`drops: ${r.interventions.map((iv) => `${iv.kind} ${iv.layer}`).join(', ')}`] : []),
      ...fallbacks.map((x) => `fallback ${x.name}: ${x.from} -> ${x.to} (${x.reason})`),
      ...genLines,
    ].join('\n');
    return { human, data: { ...r, chunked, generation, tensors: changed, fallbacks } };
  } finally {
    mod.dispose();
  }
}

export async function exportCommand(c: CliContext): Promise<CliResult> {
  const { model } = c.engine.current;
  const to = c.str('to', true)!;
  const out = c.str('out', true)!;
  const { allocation, plan } = parseAllocation(readAlloc(c), model.spec);
  let text: string | Uint8Array;
  let extra: Record<string, unknown> = {};
  if (to === 'json') text = allocationJson(allocation);
  else if (to === 'llama-quantize') {
    const r = llamaQuantizeArgs(plan!, { input: c.modelPath });
    text = r.command + '\n';
    extra = { args: r.args, unsupported: r.unsupported };
  } else if (to === 'peft') text = JSON.stringify(peftLoraConfig(model.spec, plan!), null, 2) + '\n';
  else if (to === 'csv') {
    const metrics = (c.str('metrics') ?? (typeof allocation.strategy?.metric === 'string' ? allocation.strategy.metric : '')).split(',').filter(Boolean);
    if (metrics.length === 0) throw c.usage('--to csv needs --metrics LIST (and --text or --file) to measure');
    text = scoresCsv((await analyzeFor(c, metrics)).scores);
  } else if (to === 'gguf') {
    const src = c.files.find((f) => f.name.toLowerCase().endsWith('.gguf'));
    const applied = applyAllocation(model, allocation);
    const r = modifiedModelGguf(src ? { file: parseGguf(src.bytes), bytes: src.bytes } : null, applied.model, applied.interventions);
    const unsupported = applied.plan.kvBits.map((k) => `KV cache bits of block ${k.layer} (K ${k.k}, V ${k.v}): a runtime setting, not stored in GGUF`);
    text = r.bytes;
    extra = { blockCount: r.blockCount, renumber: r.renumber, tensorCount: r.tensorCount, notes: r.notes, fallbacks: applied.plan.fallbacks, unsupported, size: applied.size };
  } else throw c.usage(`--to must be json, llama-quantize, peft, csv or gguf, got "${to}"`);
  writeFileSync(out, text);
  const bytes = typeof text === 'string' ? Buffer.byteLength(text) : (text as Uint8Array).byteLength;
  const notes = Array.isArray(extra.unsupported) && extra.unsupported.length ? `\nnot expressible: ${(extra.unsupported as string[]).join('; ')}` : '';
  return { human: `wrote ${out} (${to}, ${bytes.toLocaleString('en-US')} bytes)${notes}`, data: { out, to, bytes, ...extra } };
}

interface SweepPoint {
  meanNll: number;
  kl: number;
  top1: number;
  /** Stored bits per weight of all 2-D matrices (plain intN are resident as F32, so they count 32). */
  bitsPerWeight: number;
  /** Bits per weight of the formatted tensors (the blocks' linear weights) in their formats, after fallbacks; intN with its scales. */
  formatBitsPerWeight: number;
}

/** Format bits per weight over the tensors the plan gives a format (formatBitsPerWeight of each, weighted by its values). */
function planBits(plan: AllocationPlan): number {
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
 * sweep: for k = 0, step, ..., 100 % of the blocks, the allocation "round(k L / 100) blocks at --to, the
 * rest at --from" (or, with --drop KINDS, "round(k L / 100) blocks' block / attention / MLP dropped"), the
 * moved blocks taken from the end of the order (fromOrder in strategies.ts): metric order (least important
 * moved first), its reverse, and random orders for each --seeds value (the Layer-Wise Quantization and
 * LLM-Drop experiments).
 */
export async function sweepCommand(c: CliContext): Promise<CliResult> {
  const { model, backend } = c.engine.current;
  const spec = model.spec;
  const dropArg = c.str('drop');
  const drops = dropArg === undefined ? [] : dropArg.split(',').map((x) => x.trim());
  for (const d of drops) if (!['block', 'attn', 'mlp'].includes(d)) throw c.usage(`--drop must be a comma-separated list of block, attn, mlp; got "${dropArg}"`);
  if (drops.length && (c.str('to') !== undefined || c.str('from') !== undefined)) throw c.usage('give --to FMT (format sweep) or --drop KINDS (drop sweep), not both');
  const from = drops.length ? null : formatOpt(c, 'from') ?? 'Q8_0';
  if (!drops.length) c.str('to', true);
  const to = drops.length ? null : formatOpt(c, 'to')!;
  const metric = c.str('metric', true)!;
  const step = c.num('step') ?? 20;
  if (!(step > 0 && step <= 100)) throw c.usage(`--step must be in (0, 100], got ${step}`);
  const seeds = (c.str('seeds') ?? '0').split(',').map((s) => {
    const v = Number(s);
    if (!Number.isInteger(v)) throw c.usage(`--seeds must be a comma-separated list of integers, got "${c.str('seeds')}"`);
    return v;
  });
  const ids = evalIds(c);
  const r = await analyzeFor(c, [metric]);
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
  const curves: { order: string; drop: DropKind | null; blocks: number[]; points: ({ percent: number; moved: number } & SweepPoint)[] }[] = [];
  const cache = new Map<string, SweepPoint>();
  for (const what of drops.length ? (drops as DropKind[]) : [null]) {
    for (const o of orders) {
      const points = [];
      for (const k of ks) {
        const n = Math.round((k * L) / 100);
        const moved = o.order.slice(L - n).sort((x, y) => x - y);
        const key = `${what ?? ''}:${moved.join(',')}`;
        let m = cache.get(key);
        if (!m) {
          const opts: OrderOptions = what ? { drop: { what, n } } : { formats: { high: from!, low: to!, nLow: n } };
          const ap = applyAllocation(model, fromOrder(spec, o.order, opts, { name: 'sweep' }));
          // A drop-only allocation changes no weight: the base backend runs it with the interventions.
          const be = what ? backend : await c.engine.backendFor(ap.model);
          try {
            const cmp = await compareModels(backend, be, ids, { interventions: ap.interventions, decodeTokens: 0 });
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
  const f3 = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
  const human = curves.map((cv) => [`order ${cv.order}${cv.drop ? `, drop ${cv.drop}` : ''} (most important first: ${cv.blocks.join(' ')})`, ...cv.points.map((p) => `  ${p.percent.toFixed(0).padStart(3)}% (${p.moved} blocks): NLL ${p.meanNll.toFixed(6)}  KL ${p.kl.toFixed(6)}  top-1 ${(p.top1 * 100).toFixed(1)}%  bpw ${f3(p.formatBitsPerWeight)} (stored ${f3(p.bitsPerWeight)})`)].join('\n')).join('\n');
  return { human, data: { from, to, drop: drops.length ? drops : null, metric, tokens: ids.length, curves } };
}
