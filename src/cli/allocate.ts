// The allocation verbs of the CLI: allocate (strategy -> Allocation JSON), compare (apply an allocation,
// modified vs original on a text), export (json | llama-quantize | peft | csv | gguf) and sweep (move k%
// of the blocks from one format to a lower one in metric / reverse / random order). main.ts parses the
// arguments and loads the model; these functions get a small context and return what to print.
import { readFileSync, writeFileSync } from 'node:fs';
import type { Engine } from '../worker/engine.ts';
import type { NamedBytes } from './files.ts';
import {
  allocateParamsStrategy, allocationJson, markDivergence, parseAllocation, wantsParamsStrategy, type Allocation, type DropKind, type ParamsStrategyRequest,
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

/**
 * drank / owl, and solve with params=R, --ranks or --drop: core/allocation/param-strategies.ts (the worker
 * API can call the same function). Null when the request is for the engine's own allocate().
 */
async function paramsAllocate(c: CliContext, strategy: string): Promise<{ allocation: Allocation; scoresUsed: string } | null> {
  const { model, backend } = c.engine.current;
  const req: ParamsStrategyRequest = {
    strategy,
    budget: c.str('budget'),
    ranks: c.str('ranks'),
    drop: c.str('drop'),
    formats: c.str('formats'),
    lambda: c.num('lambda'),
    sparsityMethod: c.str('sparsity-method'),
  };
  if (!wantsParamsStrategy(req)) return null;
  return allocateParamsStrategy({
    model,
    backend,
    backendFor: (m) => c.engine.backendFor(m),
    analyze: (metrics, formats) => c.engine.analyze({ texts: [c.text()], metrics, addBos: c.addBos, formats, bits: formats ? [] : undefined, maxTokens: c.num('max-tokens', false, true) }),
    ids: () => {
      const ids = model.tokenizer.encode(c.text(), { addBos: c.addBos });
      const max = c.num('max-tokens', false, true);
      return (max !== undefined ? ids.slice(0, max) : ids).slice(0, model.spec.contextLength);
    },
    usage: c.usage,
  }, req);
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
