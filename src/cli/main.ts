// layerlab: the command-line face of the engine. Same Engine (src/worker/engine.ts) as the browser
// worker, on Dawn's `webgpu` package. Every command takes --json, --backend gpu|cpu|auto and
// --tokenizer PATH; results go to stdout, errors to stderr with a non-zero exit.
import '../gpu/shaders-node.ts';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../worker/engine.ts';
import type { BackendChoice, ModelInfo } from '../worker/api.ts';
import { readModelFiles } from './files.ts';
import { nodeGpu } from './node-gpu.ts';
import { describeSpec } from '../core/model/spec.ts';
import { MetricNameError, reportText, resolveMetricNames, toReport } from '../core/analysis/index.ts';
import { ALLOCATION_COMMANDS, allocateCommand, compareCommand, exportCommand, sweepCommand, type CliContext } from './allocate.ts';
import { exportOnnxCommand, ExportOnnxUsageError } from './onnx.ts';
import { isOnnxPath, onnxModelFiles } from './onnx-model.ts';

const USAGE = `layerlab: layer-wise importance workbench (CLI)

Commands:
  info        --model PATH
  tokenize    --model PATH --text TEXT
  generate    --model PATH --prompt TEXT --tokens N [--temperature T --top-k K --top-p P --seed S] [--stop-at-eos]
  logits      --model PATH --text TEXT [--top K]
  nll         --model PATH (--text TEXT | --file FILE)
  perplexity  --model PATH --file FILE --ctx N
  analyze     --model PATH (--text TEXT | --file FILE) --metrics LIST [--bits 8,6,4,3,2] [--formats Q8_0,Q4_0,...]
              [--ref-bits B] [--outlier-k K] [--owl-m M] [--top-k K] [--max-tokens N]
              LIST: comma-separated cos,lim,zd,contrib,cka,weights,ablation,quant,lens,agreement,taylor,fisher,zo or all
  allocate    --model PATH --strategy uniform|ranked|reverse|random|solve|drank|owl --out FILE [--format FMT] [--low FMT --n N]
              [--metric ID] [--seed S] [--budget bpw=X|bytes=N|params=R|drop-blocks=N] [--formats LIST] [--text TEXT | --file FILE]
              [--ranks 0.25,0.5 --drop attn,mlp,block] (solve: rank / drop options) [--lambda L --sparsity-method wanda|magnitude|2:4] (owl)
  compare     --model PATH --alloc FILE (--text TEXT | --file FILE) [--max-tokens N] [--decode-tokens N] [--ctx N]
              [--prompt TEXT --tokens N [--temperature T --top-k K --top-p P --seed S]]
  export      --model PATH --alloc FILE --to json|llama-quantize|peft|csv|gguf --out FILE [--metrics LIST --text|--file]
  sweep       --model PATH (--text TEXT | --file FILE) --metric ID ([--from Q8_0] --to FMT | --drop block,attn,mlp)
              [--step PCT] [--seeds LIST]
  export-onnx --model PATH --out FILE [--residual-outputs] [--weights 4bit|f32] [--kv-cache]   (ONNX opset 17)

Options for every command:
  --json               machine-readable output (fields documented in README.md)
  --backend B          gpu | cpu | auto (default auto: the GPU when an adapter exists, else the CPU)
  --tokenizer PATH     tokenizer file (tokenizer.json or a llama2.c tokenizer .bin) instead of the model's own
  --context N          override the model's context length (e.g. 512 for stories260K's GGUF, which stores 128)
  --bos / --no-bos     force prepending BOS or not (default: the model's tokenizer decides)
  --models-dir DIR     resolve a relative --model against DIR when it is not found as given
  --model FILE.onnx    an ONNX causal LM (run by onnxruntime-web, wasm): info, logits, nll, perplexity, generate,
                       analyze (cos,lim,contrib,cka,lens,zd,weights,agreement), allocate/compare; tokenizer.json
                       beside the file or --tokenizer PATH
`;

type Args = { _: string[]; [k: string]: string | boolean | string[] };

const BOOL_FLAGS = new Set(['json', 'bos', 'no-bos', 'stop-at-eos', 'help', 'tiled', 'simple', 'cpu', 'gpu-only', 'cpu-only', 'residual-outputs', 'kv-cache']);

/**
 * Every option main() reads. An option outside this list is refused (a misspelt --temprature or --top_k
 * would otherwise be ignored and the run would silently use the defaults). parseArgs itself stays
 * permissive: the bench script shares it with options of its own.
 */
const CLI_OPTIONS = new Set([
  'json', 'bos', 'no-bos', 'stop-at-eos', 'help', 'model', 'backend', 'tokenizer', 'context', 'models-dir',
  'text', 'file', 'prompt', 'tokens', 'temperature', 'top-k', 'top-p', 'seed', 'top', 'ctx',
  'metrics', 'bits', 'formats', 'ref-bits', 'outlier-k', 'owl-m', 'max-tokens',
  'strategy', 'out', 'format', 'low', 'n', 'metric', 'budget', 'alloc', 'to', 'from', 'step', 'seeds', 'decode-tokens', 'drop',
  'ranks', 'lambda', 'sparsity-method',
  'residual-outputs', 'weights', 'kv-cache',
]);

export function parseArgs(argv: string[]): Args {
  const a: Args = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const t = argv[i];
    if (t.startsWith('--')) {
      const eq = t.indexOf('=');
      if (eq > 0) {
        a[t.slice(2, eq)] = t.slice(eq + 1);
        continue;
      }
      const k = t.slice(2);
      if (BOOL_FLAGS.has(k)) a[k] = true;
      else {
        if (i + 1 >= argv.length) throw new UsageError(`--${k} needs a value`);
        a[k] = argv[++i];
      }
    } else a._.push(t);
  }
  return a;
}

class UsageError extends Error {}

function str(a: Args, k: string, required = false): string | undefined {
  const v = a[k];
  if (v === undefined || v === true) {
    if (required) throw new UsageError(`--${k} is required`);
    return undefined;
  }
  return String(v);
}

function num(a: Args, k: string, required = false, integer = false): number | undefined {
  const s = str(a, k, required);
  if (s === undefined) return undefined;
  const v = Number(s);
  if (!Number.isFinite(v) || (integer && !Number.isInteger(v))) throw new UsageError(`--${k} must be ${integer ? 'an integer' : 'a number'}, got "${s}"`);
  return v;
}

function bosFlag(a: Args): boolean | undefined {
  if (a.bos) return true;
  if (a['no-bos']) return false;
  return undefined;
}

function resolveModel(a: Args): string {
  const m = str(a, 'model', true)!;
  if (existsSync(m)) return m;
  const dir = str(a, 'models-dir') ?? process.env.LAYERLAB_MODELS;
  if (dir && existsSync(join(dir, m))) return join(dir, m);
  throw new Error(`--model: no such file or folder: ${m}${dir ? ` (nor under ${dir})` : ''}`);
}

function backendLine(info: ModelInfo): string {
  return `backend: ${info.backend.kind} (${info.backend.adapter})${info.backend.software ? ' [software adapter: slow]' : ''}`;
}

/** Where main() writes: process.stdout/stderr, or anything with write() (tests). */
export interface TextSink {
  write(s: string): unknown;
}

export async function main(argv: string[], out: TextSink = process.stdout, err: TextSink = process.stderr): Promise<number> {
  let a: Args;
  try {
    a = parseArgs(argv);
  } catch (e) {
    err.write(`layerlab: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const cmd = a._[0];
  if (a.help || cmd === 'help') {
    out.write(USAGE);
    return 0;
  }
  // Usage errors go to stderr like every other error; stdout stays empty.
  const unknownOpts = Object.keys(a).filter((k) => k !== '_' && !CLI_OPTIONS.has(k));
  if (!cmd || unknownOpts.length > 0) {
    const why = !cmd ? 'no command given' : `unknown option${unknownOpts.length > 1 ? 's' : ''} ${unknownOpts.map((k) => `--${k}`).join(', ')}`;
    err.write(`layerlab: ${why}\n\n${USAGE}`);
    return 2;
  }
  const json = a.json === true;
  const print = (human: string, data: unknown) => out.write(json ? JSON.stringify(data, null, 2) + '\n' : human + '\n');
  const engine = new Engine(nodeGpu);
  try {
    const known = ['info', 'tokenize', 'generate', 'logits', 'nll', 'perplexity', 'analyze', 'export-onnx', ...ALLOCATION_COMMANDS];
    if (cmd === 'analyze') {
      try {
        resolveMetricNames((str(a, 'metrics', true) ?? '').split(','));
      } catch (e) {
        if (e instanceof MetricNameError) throw new UsageError(`--metrics: ${e.message}`);
        throw e;
      }
    }
    if (!known.includes(cmd)) throw new UsageError(`unknown command "${cmd}" (commands: ${known.join(', ')})`);
    const backend = (str(a, 'backend') ?? 'auto') as BackendChoice;
    if (!['gpu', 'cpu', 'auto'].includes(backend)) throw new UsageError(`--backend must be gpu, cpu or auto, got "${backend}"`);
    const modelPath = resolveModel(a);
    // An .onnx model: graph + external data + tokenizer (cli/onnx-model.ts); run by onnxruntime-web.
    const files = isOnnxPath(modelPath) ? onnxModelFiles(modelPath, str(a, 'tokenizer'), (m) => new UsageError(m)) : readModelFiles(modelPath, str(a, 'tokenizer'));
    if (cmd === 'export-onnx') {
      // CPU-side only: no device is acquired to write the graph (logic in cli/onnx.ts).
      try {
        const r = exportOnnxCommand({ files, out: str(a, 'out', true)!, residualOutputs: a['residual-outputs'] === true, kvCache: a['kv-cache'] === true, weights: str(a, 'weights'), contextLength: num(a, 'context', false, true) });
        // README: every JSON result has `backend`; an export runs nothing, on no device.
        print(r.human, { model: modelPath, ...r.data, backend: { kind: 'cpu', adapter: 'CPU (export only, no forward run)', software: true } });
        return 0;
      } catch (e) {
        throw e instanceof ExportOnnxUsageError ? new UsageError(e.message) : e;
      }
    }
    const info = await engine.load({ kind: 'files', files }, { backend, contextLength: num(a, 'context', false, true) });
    const be = { kind: info.backend.kind, adapter: info.backend.adapter, software: info.backend.software };
    const addBos = bosFlag(a);
    const text = (): string => {
      const f = str(a, 'file');
      const t = str(a, 'text');
      if (f !== undefined) return readFileSync(f, 'utf8');
      if (t !== undefined) return t;
      throw new UsageError('give --text TEXT or --file FILE');
    };

    switch (cmd) {
      case 'info': {
        const human = [
          describeSpec(info.spec),
          `format: ${info.format}; parameters: ${info.parameters.toLocaleString('en-US')}; weight bytes: ${info.weightBytes.toLocaleString('en-US')}`,
          `tensor types: ${Object.entries(info.tensorTypes).map(([k, v]) => `${k} x${v}`).join(', ')}`,
          `norm: ${info.spec.norm.kind} eps=${info.spec.norm.eps}; rope: ${info.spec.rope.kind} theta=${info.spec.rope.theta}; tied embeddings: ${info.spec.tiedEmbeddings}`,
          `tokenizer: ${info.tokenizer.kind}, vocab ${info.tokenizer.vocabSize}, bos=${info.tokenizer.bosId} eos=${info.tokenizer.eosId} addBos=${info.tokenizer.addBos}`,
          backendLine(info),
        ].join('\n');
        print(human, { model: modelPath, ...info, backend: be });
        break;
      }
      case 'tokenize': {
        const t = str(a, 'text', true)!;
        const r = await engine.tokenize(t, addBos);
        print(`${r.ids.join(' ')}\n${r.pieces.map((p) => JSON.stringify(p)).join(' ')}\n${backendLine(info)}`, { text: t, ids: r.ids, pieces: r.pieces, count: r.ids.length, backend: be });
        break;
      }
      case 'generate': {
        const prompt = str(a, 'prompt', true)!;
        const r = await engine.generate({
          prompt,
          maxTokens: num(a, 'tokens', true, true)!,
          temperature: num(a, 'temperature') ?? 0,
          topK: num(a, 'top-k', false, true),
          topP: num(a, 'top-p'),
          seed: num(a, 'seed', false, true) ?? 0,
          addBos,
          stopAtEos: a['stop-at-eos'] === true,
        });
        print(
          `${prompt}${r.text}\n---\nprompt ids: ${r.promptIds.join(' ')}\ngenerated ids: ${r.generatedIds.join(' ')}\nprefill ${r.prefillTokensPerSecond.toFixed(1)} tok/s, decode ${r.decodeTokensPerSecond.toFixed(1)} tok/s\n${backendLine(info)}`,
          { prompt, ...r, backend: be },
        );
        break;
      }
      case 'logits': {
        const t = str(a, 'text', true)!;
        const r = await engine.forward({ text: t, addBos });
        const V = r.vocabSize;
        const rows: number[][] = [];
        for (let p = 0; p < r.T; p++) rows.push(Array.from(r.logits.subarray(p * V, (p + 1) * V)));
        const top = num(a, 'top', false, true) ?? 5;
        const lines = rows.map((row, p) => {
          const best = row.map((v, i) => [v, i] as const).sort((x, y) => y[0] - x[0]).slice(0, top);
          return `pos ${p} (id ${r.ids[p]}): ${best.map(([v, i]) => `${i}:${v.toFixed(4)}`).join(' ')}`;
        });
        print(`${lines.join('\n')}\n${backendLine(info)}`, { ids: r.ids, vocabSize: V, logits: rows, backend: be });
        break;
      }
      case 'nll': {
        const r = await engine.nll({ text: text(), addBos, ctx: num(a, 'ctx', false, true) });
        print(
          `mean NLL ${r.meanNll.toFixed(6)} nats/token over ${r.scored} tokens (perplexity ${r.perplexity.toFixed(4)}, ${r.windows} window(s))\n${backendLine(info)}`,
          { tokens: r.tokens, scored: r.scored, meanNll: r.meanNll, perplexity: r.perplexity, windows: r.windows, tokenNll: r.tokenNll, backend: be },
        );
        break;
      }
      case 'analyze': {
        const list = (s: string | undefined) => (s === undefined ? undefined : s.split(',').map((x) => x.trim()).filter((x) => x.length > 0));
        const ints = (k: string) => list(str(a, k))?.map((x) => {
          const v = Number(x);
          if (!Number.isInteger(v)) throw new UsageError(`--${k} must be a comma-separated list of integers, got "${str(a, k)}"`);
          return v;
        });
        const r = await engine.analyze({
          texts: [text()],
          metrics: list(str(a, 'metrics', true))!,
          addBos,
          bits: ints('bits'),
          formats: list(str(a, 'formats')),
          refBits: num(a, 'ref-bits', false, true),
          outlierK: num(a, 'outlier-k'),
          owlM: num(a, 'owl-m'),
          lensTopK: num(a, 'top-k', false, true),
          maxTokens: num(a, 'max-tokens', false, true),
        });
        const rep = toReport(r);
        print(`${reportText(rep)}\n${backendLine(info)}`, { ...rep, model: { ...rep.model, path: modelPath }, backend: be });
        break;
      }
      case 'allocate':
      case 'compare':
      case 'export':
      case 'sweep': {
        const ctx: CliContext = {
          engine, modelPath, files, addBos, text,
          str: (k, req) => str(a, k, req), num: (k, req, int) => num(a, k, req, int), usage: (m) => new UsageError(m),
        };
        const run = { allocate: allocateCommand, compare: compareCommand, export: exportCommand, sweep: sweepCommand }[cmd];
        const r = await run(ctx);
        print(`${r.human}\n${backendLine(info)}`, { ...(r.data as object), backend: be });
        break;
      }
      case 'perplexity': {
        const f = str(a, 'file', true)!;
        const r = await engine.perplexity({ text: readFileSync(f, 'utf8'), ctx: num(a, 'ctx', true, true)! });
        print(
          `${r.perChunk.map((p, i) => `[${i + 1}]${p.toFixed(4)}`).join(',')}\nFinal estimate: PPL = ${r.perplexity.toFixed(4)} +/- ${(r.perplexity * r.nllStdErr).toFixed(5)} (${r.chunks} chunks of ${r.ctx}, ${r.scored} tokens scored)\n${backendLine(info)}`,
          { ...r, backend: be },
        );
        break;
      }
    }
    return 0;
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    const hint = (e as { hint?: string }).hint;
    err.write(`layerlab: ${msg}${hint ? `\n  hint: ${hint}` : ''}\n`);
    if (e instanceof UsageError) err.write(`\n${USAGE}`);
    return e instanceof UsageError ? 2 : 1;
  } finally {
    await engine.unload().catch(() => {});
  }
}
