// The allocation verbs of the CLI: allocate (strategy -> Allocation JSON), compare (apply an allocation,
// modified vs original on a text), export (json | llama-quantize | peft | csv | gguf) and sweep (move k%
// of the blocks from one format to a lower one in metric / reverse / random order). main.ts parses the
// arguments and loads the model; these functions get a small context and return what to print.
import { readFileSync, writeFileSync } from 'node:fs';
import type { Engine } from '../worker/engine.ts';
import type { NamedBytes } from './files.ts';
import {
  allocationJson, blockProblem, drankAllocation, markDivergence, measureRankSensitivity, owlAllocation, parseAllocation, parseWeightFormat, sensitivityFromAnalysis,
  solutionToAllocation, solveExact, type Allocation, type BlockProblemOptions, type DropKind, type SparsityMethod,
} from '../core/allocation/index.ts';
import {
  allocate, compare, exportAllocation, sweep, type AllocationHost, type ExportTarget, type StrategyName, type TextRequest,
} from '../worker/engine-allocation.ts';

// The logic lives in src/worker/engine-allocation.ts (shared with the worker API, so the page and the CLI
// give identical numbers); parseBudget moved there too and is re-exported here.
export { parseBudget } from '../worker/engine-allocation.ts';

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

export const ALLOCATION_COMMANDS = ['allocate', 'compare', 'export', 'sweep'];

/** The engine's allocation host with the CLI's text, files and usage errors. */
function host(c: CliContext): AllocationHost {
  return { ...c.engine.allocationHost(), text: () => c.text(), sourceFiles: c.files, usage: c.usage };
}

/** The text options every verb shares (the text itself is read lazily through the host). */
function textReq(c: CliContext): TextRequest {
  return { addBos: c.addBos, maxTokens: c.num('max-tokens', false, true) };
}

/** --budget with a params=R part: every part parsed (bpw=X, bytes=N, params=R, drop-blocks=N). */
export function parseParamsBudget(s: string, usage: (m: string) => Error): { bitsPerWeight?: number; bytes?: number; params?: number; dropBlocks?: number } {
  const out: { bitsPerWeight?: number; bytes?: number; params?: number; dropBlocks?: number } = {};
  for (const part of s.split(',').map((x) => x.trim()).filter(Boolean)) {
    const m = /^(bpw|bytes|params|drop-blocks)=([0-9.eE+]+)$/.exec(part);
    const v = m ? Number(m[2]) : NaN;
    if (!m || !Number.isFinite(v) || v < 0) throw usage(`--budget: "${part}" is not bpw=X, bytes=N, params=R or drop-blocks=N`);
    if (m[1] === 'bpw') out.bitsPerWeight = v;
    else if (m[1] === 'params') {
      if (!(v > 0 && v <= 1)) throw usage(`--budget: params=R keeps a ratio R of the parameters, in (0, 1]; got ${m[2]}`);
      out.params = v;
    } else if (!Number.isInteger(v)) throw usage(`--budget: ${m[1]} must be an integer, got ${m[2]}`);
    else if (m[1] === 'bytes') out.bytes = v;
    else out.dropBlocks = v;
  }
  if ([out.bitsPerWeight, out.bytes, out.params].filter((x) => x !== undefined).length > 1) throw usage('--budget: give one of bpw=X, bytes=N, params=R');
  return out;
}

/**
 * The strategies that take a parameter-ratio budget or mixed rank knobs (core/allocation/param-budget.ts):
 *   drank: --budget params=R; ranks from the 'erank' metric (D-Rank-style);
 *   owl:   --budget params=R [--lambda L] [--sparsity-method wanda|magnitude]; per-block sparsity from the
 *          'owl' metric (outlier ratios, needs the calibration text);
 *   solve with params=R, --ranks LIST or --drop KINDS: one exact knapsack over keep / --formats / drops /
 *          rank options, damages measured on the text (quant, ablation, rank sensitivities).
 * Returns null when the request is for the engine's own allocate().
 */
async function paramsAllocate(c: CliContext, strategy: string): Promise<{ allocation: Allocation; scoresUsed: string } | null> {
  const budgetText = c.str('budget');
  const withParams = budgetText !== undefined && /(^|,)\s*params=/.test(budgetText);
  const ranksText = c.str('ranks');
  const dropText = c.str('drop');
  if (strategy !== 'drank' && strategy !== 'owl' && !(strategy === 'solve' && (withParams || ranksText !== undefined || dropText !== undefined))) return null;
  const budget = parseParamsBudget(budgetText ?? '', c.usage);
  const { model, backend } = c.engine.current;
  const spec = model.spec;
  const analyzeFor = (metrics: string[], formats?: string[]) =>
    c.engine.analyze({ texts: [c.text()], metrics, addBos: c.addBos, formats, bits: formats ? [] : undefined, maxTokens: c.num('max-tokens', false, true) });
  if (strategy === 'drank' || strategy === 'owl') {
    if (budget.params === undefined) throw c.usage(`--strategy ${strategy} needs --budget params=R (the ratio of the blocks' linear-weight parameters to keep)`);
    if (strategy === 'drank') {
      const r = await analyzeFor(['weights']);
      const s = r.scores.find((x) => x.metricId === 'erank');
      if (!s?.perTensor) throw new Error('the analysis returned no per-tensor effective ranks (metric erank)');
      return { allocation: drankAllocation(spec, s.perTensor, budget.params).allocation, scoresUsed: 'erank' };
    }
    const method = (c.str('sparsity-method') ?? 'wanda') as SparsityMethod;
    if (method !== 'wanda' && method !== 'magnitude') throw c.usage(`--sparsity-method must be wanda or magnitude, got "${method}"`);
    const r = await analyzeFor(['weights']);
    const s = r.scores.find((x) => x.metricId === 'owl');
    if (!s) throw new Error('the analysis returned no OWL outlier ratios (metric owl)');
    return { allocation: owlAllocation(spec, s.perBlock, budget.params, { lambda: c.num('lambda'), method }).allocation, scoresUsed: 'owl' };
  }
  // solve with mixed knobs.
  if (budget.bitsPerWeight === undefined && budget.bytes === undefined && budget.params === undefined) throw c.usage('--strategy solve needs --budget bpw=X, bytes=N or params=R');
  const formats = (c.str('formats') ?? (budget.params !== undefined ? '' : 'Q8_0,Q6_K,Q5_0,Q4_K,Q4_0,Q3_K,Q2_K')).split(',').map((x) => x.trim().toUpperCase()).filter(Boolean);
  for (const f of formats) if (!parseWeightFormat(f)) throw c.usage(`--formats: unknown weight format "${f}"`);
  const ranks = (ranksText ?? '').split(',').map((x) => x.trim()).filter(Boolean).map(Number);
  for (const f of ranks) if (!(f > 0 && f <= 1)) throw c.usage(`--ranks: fractions of each matrix's break-even rank in (0, 1], got "${ranksText}"`);
  const drops = (dropText ?? (budget.dropBlocks ? 'block' : '')).split(',').map((x) => x.trim()).filter(Boolean) as DropKind[];
  for (const d of drops) if (!['block', 'attn', 'mlp'].includes(d)) throw c.usage(`--drop must list block, attn, mlp; got "${dropText}"`);
  const metrics = [...(formats.length ? ['quant'] : []), ...(drops.length ? ['ablation'] : [])];
  const table = metrics.length ? sensitivityFromAnalysis(await analyzeFor(metrics, formats.length ? formats : undefined)) : { formats: {} };
  if (ranks.length) {
    let ids = model.tokenizer.encode(c.text(), { addBos: c.addBos });
    const max = c.num('max-tokens', false, true);
    if (max !== undefined) ids = ids.slice(0, max);
    ids = ids.slice(0, spec.contextLength);
    table.rank = await measureRankSensitivity(backend, model, (m) => c.engine.backendFor(m), ids, ranks);
  }
  const o: BlockProblemOptions = {
    formats: formats.filter((f) => table.formats[f]),
    ranks,
    drops,
    keep: true,
    budget: budget.params !== undefined ? { params: budget.params } : budget.bitsPerWeight !== undefined ? { bitsPerWeight: budget.bitsPerWeight } : { bytes: budget.bytes! },
  };
  if (budget.dropBlocks !== undefined) o.maxDrops = { block: budget.dropBlocks };
  const p = blockProblem(spec, table, o);
  const sol = solveExact(p);
  if (!sol.feasible) throw new Error(`no plan fits the budget ${budgetText}: the cheapest choice costs more (try a larger budget, lower --ranks or more --drop kinds)`);
  return { allocation: solutionToAllocation(spec, p, sol, { budgetSpec: budgetText, formats: o.formats, ranks, drops }), scoresUsed: [...metrics, ...(ranks.length ? ['rank'] : [])].join(',') };
}

export async function allocateCommand(c: CliContext): Promise<CliResult> {
  const special = await paramsAllocate(c, c.str('strategy', true)!);
  if (special) {
    const out = c.str('out', true)!;
    const a = special.allocation;
    const json = allocationJson(a);
    const { plan } = parseAllocation(JSON.parse(json), c.engine.current.model.spec);
    writeFileSync(out, json);
    const rows = [
      ...Object.entries(a.layers ?? {}).map(([l, e]) => `  block ${l}: ${[e.format, e.drop ? `drop ${e.drop}` : ''].filter(Boolean).join(', ')}`),
      ...Object.entries(a.tensors ?? {}).map(([n, e]) => `  ${n}: ${[e.rank !== undefined ? `rank ${e.rank}` : '', e.sparsity ? `${e.sparsity.method} sparsity ${(e.sparsity.ratio ?? 0.5).toFixed(4)}` : ''].filter(Boolean).join(', ')}`),
    ];
    return {
      human: [`wrote ${out} (strategy ${String(a.strategy?.name)}, measured ${special.scoresUsed || 'nothing'})`, ...rows].join('\n'),
      data: { out, allocation: a, fallbacks: plan?.fallbacks ?? [] },
    };
  }
  const strategy = c.str('strategy', true)! as StrategyName;
  const out = c.str('out', true)!;
  const low = c.str('low');
  const r = await allocate(host(c), {
    ...textReq(c),
    strategy,
    format: c.str('format'),
    low,
    // without --low, a given --n is refused by allocate() (after the format and budget checks)
    n: low !== undefined ? c.num('n', true, true) : c.str('n') !== undefined ? 0 : undefined,
    metric: c.str('metric'),
    budget: c.str('budget'),
    seed: c.num('seed', false, true),
    formats: c.str('formats')?.split(','),
  });
  const a = r.allocation;
  writeFileSync(out, r.json);
  const layers = Object.entries(a.layers ?? {}).map(([l, e]) => `  block ${l}: ${[e.format, e.drop ? `drop ${e.drop}` : ''].filter(Boolean).join(', ')}`);
  return {
    human: [`wrote ${out} (strategy ${strategy}${r.scoresUsed ? `, measured ${r.scoresUsed}` : ''})`, ...layers, ...r.fallbacks.map((f) => `  fallback ${f.name}: ${f.from} -> ${f.to} (${f.reason})`)].join('\n'),
    data: { out, allocation: a, fallbacks: r.fallbacks },
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

export async function compareCommand(c: CliContext): Promise<CliResult> {
  const tok = c.engine.current.model.tokenizer;
  const allocation = readAlloc(c);
  const prompt = c.str('prompt');
  if (prompt === undefined) {
    for (const k of ['tokens', 'temperature', 'top-k', 'top-p', 'seed']) if (c.str(k) !== undefined) throw c.usage(`--${k} needs --prompt TEXT (side-by-side generation)`);
  }
  const generation = prompt === undefined ? undefined : {
    prompt,
    tokens: c.num('tokens', true, true)!,
    temperature: c.num('temperature'),
    topK: c.num('top-k', false, true),
    topP: c.num('top-p'),
    seed: c.num('seed', false, true),
  };
  const r = await compare(host(c), { ...textReq(c), allocation, decodeTokens: c.num('decode-tokens', false, true), ctx: c.num('ctx', false, true), generation });
  const { chunked, generation: g, fallbacks } = r;
  const genLines = g ? [
    `generation (${g.base.ids.length} tokens; ${g.firstDivergence === null ? 'identical' : `first divergence at generated token ${g.firstDivergence}, marked |`}):`,
    `  prompt:   ${JSON.stringify(g.prompt)}`,
    `  base:     ${JSON.stringify(markDivergence(g.base.ids, g.firstDivergence, (x) => tok.decode(x)))}`,
    `  modified: ${JSON.stringify(markDivergence(g.modified.ids, g.firstDivergence, (x) => tok.decode(x)))}`,
  ] : [];
  const size = r.size!;
  const f = (x: number, d = 4) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
  const human = [
    `tokens ${r.tokens} (${r.scored} scored)`,
    `base:     NLL ${f(r.base.meanNll, 6)}  ppl ${f(r.base.ppl)}  prefill ${f(r.base.prefillTokensPerSecond, 1)} tok/s  decode ${f(r.base.decodeTokensPerSecond, 1)} tok/s`,
    `modified: NLL ${f(r.modified.meanNll, 6)}  ppl ${f(r.modified.ppl)}  prefill ${f(r.modified.prefillTokensPerSecond, 1)} tok/s  decode ${f(r.modified.decodeTokensPerSecond, 1)} tok/s`,
    `KL(base||modified) ${f(r.kl, 6)} nats/token; top-1 agreement ${(r.top1 * 100).toFixed(2)}%`,
    ...(chunked ? [`chunked perplexity (ctx ${chunked.ctx}, ${chunked.chunks} chunks): base ${f(chunked.base.perplexity)} +/- ${f(chunked.base.perplexity * chunked.base.nllStdErr, 5)}, modified ${f(chunked.modified.perplexity)} +/- ${f(chunked.modified.perplexity * chunked.modified.nllStdErr, 5)}`] : []),
    `resident bytes ${size.residentBytes.toLocaleString('en-US')} (base ${size.baseResidentBytes.toLocaleString('en-US')}); bits/weight ${f(size.bitsPerWeight, 3)} (matrices ${f(size.matrixBitsPerWeight, 3)})`,
    ...(size.kvCacheBitsPerToken !== size.baseKvCacheBitsPerToken ? [`K/V cache ${size.kvCacheBitsPerToken} bits/token packed (base ${size.baseKvCacheBitsPerToken} at 16 bits/value)`] : []),
    ...(r.interventions.length ? [`drops: ${r.interventions.map((iv) => `${iv.kind} ${iv.layer}`).join(', ')}`] : []),
    ...fallbacks.map((x) => `fallback ${x.name}: ${x.from} -> ${x.to} (${x.reason})`),
    ...genLines,
  ].join('\n');
  return { human, data: r };
}

export async function exportCommand(c: CliContext): Promise<CliResult> {
  const to = c.str('to', true)! as ExportTarget;
  const out = c.str('out', true)!;
  const r = await exportAllocation(host(c), { ...textReq(c), allocation: readAlloc(c), to, input: c.modelPath, metrics: c.str('metrics')?.split(',').filter(Boolean) });
  writeFileSync(out, r.text ?? r.bytes!);
  const extra = r.extra;
  const notes = Array.isArray(extra.unsupported) && extra.unsupported.length ? `\nnot expressible: ${(extra.unsupported as string[]).join('; ')}` : '';
  return { human: `wrote ${out} (${to}, ${r.size.toLocaleString('en-US')} bytes)${notes}`, data: { out, to, bytes: r.size, ...extra } };
}

/** sweep: see src/worker/engine-allocation.ts sweep (format sweep --from/--to, or --drop block,attn,mlp). */
export async function sweepCommand(c: CliContext): Promise<CliResult> {
  const dropArg = c.str('drop');
  const drops = dropArg === undefined ? undefined : (dropArg.split(',').map((x) => x.trim()) as DropKind[]);
  if (!drops?.length) c.str('to', true);
  const metric = c.str('metric', true)!;
  const seeds = c.str('seeds')?.split(',').map((s) => {
    const v = Number(s);
    if (!Number.isInteger(v)) throw c.usage(`--seeds must be a comma-separated list of integers, got "${c.str('seeds')}"`);
    return v;
  });
  const r = await sweep(host(c), { ...textReq(c), drop: drops, from: c.str('from'), to: c.str('to'), metric, step: c.num('step'), seeds });
  const f3 = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
  const human = r.curves.map((cv) => [`order ${cv.order}${cv.drop ? `, drop ${cv.drop}` : ''} (most important first: ${cv.blocks.join(' ')})`, ...cv.points.map((p) => `  ${p.percent.toFixed(0).padStart(3)}% (${p.moved} blocks): NLL ${p.meanNll.toFixed(6)}  KL ${p.kl.toFixed(6)}  top-1 ${(p.top1 * 100).toFixed(1)}%  bpw ${f3(p.formatBitsPerWeight)} (stored ${f3(p.bitsPerWeight)})`)].join('\n')).join('\n');
  return { human, data: r };
}
