// The `layerlab` CLI, called in-process as main(argv, out, err) with fake streams (CPU backend), on
// stories260K (llama2.c, and GGUF with --context 512) and kjv-gpt2-8L: every command with --json against
// the independent references in ../shared/refs (token ids, 64 greedy ids, logits within 1e-4, NLL computed
// here from the reference logits), chunked perplexity against a plain re-computation, every JSON field the
// README documents (parsed from README.md), error paths (exit code, message on stderr, nothing on stdout),
// and the real binary once through child_process (the `npx layerlab` path).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCli, runCliJson, type Json } from '../helpers/cli.ts';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { expectAllClose } from '../helpers/close.ts';
import { modelPath, readModelBytes, readRef, repoRoot } from '../helpers/models.ts';
import { kjvGreedy, kjvLogits, storiesGreedy, storiesLogits } from '../helpers/parity.ts';

// ---- running main() ----

const run = runCli;
const json = runCliJson;

// ---- models and references ----

const L2C = modelPath('stories260K/stories260K.bin');
const GGUF = modelPath('stories260K-gguf/stories260K.gguf');
const KJV = modelPath('kjv-gpt2-8L/model.safetensors'); // config.json and tokenizer files are picked up beside it
const KJV_DIR = modelPath('kjv-gpt2-8L');
const STORIES: [string, string[]][] = [
  ['stories260K (llama2.c)', ['--model', L2C, '--backend', 'cpu']],
  ['stories260K (GGUF, --context 512)', ['--model', GGUF, '--context', '512', '--backend', 'cpu']],
];
const KJV_ARGS = ['--model', KJV, '--backend', 'cpu'];

interface TokCase { text: string; bos: boolean; ids: number[]; pieces: string[] }
const tokCases = readRef<{ cases: TokCase[] }>('stories260K/tokenizer.json').cases;

/** NLL of ids[t+1] under the reference logits row t, in float64, written here (not src/core/eval). */
function refNll(logits: number[][], ids: number[]): number[] {
  return logits.slice(0, ids.length - 1).map((row, t) => {
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((a, x) => a + Math.exp(x - m), 0));
    return lse - row[ids[t + 1]];
  });
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'layerlab-cli-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// ---- the README's JSON field list ----

interface Field { name: string; sub: string[]; note: string }

/** Parses README.md's "### JSON fields": command -> top-level fields (backticked names outside parentheses). */
function readmeFields(): { common: Field[]; commands: Map<string, Field[]> } {
  const md = readFileSync(resolve(repoRoot, 'README.md'), 'utf8');
  const start = md.indexOf('### JSON fields');
  expect(start, 'README has a "### JSON fields" section').toBeGreaterThan(0);
  const end = md.indexOf('\n#', start + 5);
  const section = md.slice(start, end < 0 ? undefined : end);
  const fieldsOf = (body: string): Field[] => {
    const out: Field[] = [];
    let depth = 0;
    for (let i = 0; i < body.length; i++) {
      const c = body[i];
      if (c === '(') depth++;
      else if (c === ')') depth--;
      else if (c === '`' && depth === 0) {
        const j = body.indexOf('`', i + 1);
        const tok = body.slice(i + 1, j);
        i = j;
        const name = /^[A-Za-z]+/.exec(tok)![0];
        const braces = /\{([^}]*)\}/.exec(tok);
        const sub = braces ? braces[1].split(',').map((s) => s.trim().split(/[:\s]/)[0]).filter(Boolean) : [];
        // the parenthesised note right after the field, if any
        let note = '';
        const rest = body.slice(j + 1);
        const m = /^\s*\(/.exec(rest);
        if (m) {
          let d = 0;
          let k = m[0].length - 1;
          for (; k < rest.length; k++) {
            if (rest[k] === '(') d++;
            else if (rest[k] === ')' && --d === 0) break;
          }
          note = rest.slice(m[0].length, k);
        }
        out.push({ name, sub, note });
      }
    }
    return out;
  };
  const commands = new Map<string, Field[]>();
  let common: Field[] = [];
  // bullets: "- `cmd`: ..." with continuation lines indented
  const bullets = section.split(/\n- /).slice(1).map((b) => b.replace(/\n\s+/g, ' '));
  for (const b of bullets) {
    const m = /^`(\w+)`:\s*([\s\S]*)$/.exec(b.trim());
    if (m) commands.set(m[1], fieldsOf(m[2]));
  }
  const every = /Every JSON result has ([\s\S]*?)\n\n/.exec(section);
  if (every) common = fieldsOf(every[1].replace(/\n/g, ' '));
  return { common, commands };
}

function checkDocumented(cmd: string, obj: Json): void {
  const { common, commands } = readmeFields();
  const fields = commands.get(cmd);
  expect(fields, `README documents the JSON of ${cmd}`).toBeDefined();
  expect(fields!.length).toBeGreaterThan(2);
  expect(common.map((f) => f.name)).toEqual(['backend']);
  for (const f of [...common, ...fields!]) {
    expect(obj, `${cmd} --json: field "${f.name}" (README)`).toHaveProperty([f.name]);
    for (const s of f.sub) expect(obj[f.name], `${cmd} --json: field "${f.name}.${s}" (README)`).toHaveProperty([s]);
    // "spec (ModelSpec: `arch`, ..., `norm {kind, eps}`, ...)": the note lists the spec's own fields
    if (f.note.startsWith('ModelSpec:')) {
      const inner = fieldsOf2(f.note.slice('ModelSpec:'.length));
      expect(inner.length).toBeGreaterThan(15);
      for (const g of inner) {
        expect(obj[f.name], `${cmd} --json: field "${f.name}.${g.name}" (README)`).toHaveProperty([g.name]);
        for (const s of g.sub) expect(obj[f.name][g.name], `${cmd} --json: "${f.name}.${g.name}.${s}"`).toHaveProperty([s]);
      }
    }
    // "tensors ([{name, type, shape, bytes}], ...)": fields of every item
    const items = /\[\{([^}]*)\}\]/.exec(f.note);
    if (items) {
      expect(Array.isArray(obj[f.name])).toBe(true);
      for (const s of items[1].split(',').map((x) => x.trim())) for (const it of obj[f.name]) expect(it).toHaveProperty([s]);
    }
  }
}

/** Backticked names at any depth (for the ModelSpec list, which has no parentheses of its own). */
function fieldsOf2(body: string): { name: string; sub: string[] }[] {
  return [...body.matchAll(/`([^`]+)`/g)].map((m) => {
    const tok = m[1];
    const braces = /\{([^}]*)\}/.exec(tok);
    return { name: /^[A-Za-z]+/.exec(tok)![0], sub: braces ? braces[1].split(',').map((s) => s.trim().split(/[:\s]/)[0]).filter(Boolean) : [] };
  });
}

const CPU_BACKEND = { kind: 'cpu', adapter: 'CPU (JavaScript reference)', software: true };

// ---- commands ----

describe('layerlab info --json', () => {
  it('stories260K (llama2.c): the facts of SOURCE.md and every README field', async () => {
    const j = await json(['info', '--model', L2C, '--backend', 'cpu']);
    checkDocumented('info', j);
    expect(j.model).toBe(L2C);
    expect(j.format).toBe('llama2c');
    expect(j.spec).toMatchObject({ arch: 'llama', nLayers: 5, dModel: 64, nHeads: 8, nKvHeads: 4, headDim: 8, dFF: 172, vocabSize: 512, contextLength: 512, tiedEmbeddings: true });
    // SOURCE.md: 260,032 float32 values (embedding 32,768 + 5 x 45,440 + final norm 64)
    expect(j.parameters).toBe(260032);
    expect(j.weightBytes).toBe(4 * 260032);
    expect(j.tensorTypes).toEqual({ F32: 1 + 5 * 9 + 1 });
    expect(j.tensors).toHaveLength(47);
    expect(j.tokenizer).toEqual({ kind: expect.any(String), vocabSize: 512, bosId: 1, eosId: 2, addBos: true });
    expect(j.backend).toEqual(CPU_BACKEND);
  });

  it('stories260K GGUF: context 128 as stored, 512 with --context 512; the explicit output copy counts', async () => {
    expect((await json(['info', '--model', GGUF, '--backend', 'cpu'])).spec.contextLength).toBe(128);
    const j = await json(['info', '--model', GGUF, '--context', '512', '--backend', 'cpu']);
    checkDocumented('info', j);
    expect(j.format).toBe('gguf');
    expect(j.spec.contextLength).toBe(512);
    expect(j.parameters).toBe(260032 + 32768);
  });

  it('kjv-gpt2-8L (model.safetensors + the files beside it): GPT-2 facts of its SOURCE.md', async () => {
    const j = await json(['info', ...KJV_ARGS]);
    checkDocumented('info', j);
    expect(j.format).toBe('safetensors');
    expect(j.spec).toMatchObject({ arch: 'gpt2', nLayers: 8, dModel: 128, nHeads: 4, vocabSize: 256, contextLength: 256, learnedPositions: true, fusedQkv: true });
    expect(j.parameters).toBe(1651968);
    expect(j.spec.tiedEmbeddings).toBe(true);
    // the folder holds the GGUF copy too; given the folder, the CLI loads the GGUF (an explicit output copy)
    const d = await json(['info', '--model', KJV_DIR, '--backend', 'cpu']);
    expect(d.format).toBe('gguf');
    expect(d.spec).toMatchObject({ arch: 'gpt2', nLayers: 8, dModel: 128 });
  });
});

describe.each(STORIES)('layerlab on %s', (_name, base) => {
  it('tokenize: every case of refs/stories260K/tokenizer.json (ids, pieces, count)', async () => {
    for (const c of tokCases) {
      const j = await json(['tokenize', ...base, '--text', c.text, c.bos ? '--bos' : '--no-bos']);
      expect(j.ids, JSON.stringify(c)).toEqual(c.ids);
      // pieces are the raw vocabulary strings: tok512.bin's (" Once", "\n<s>\n") for llama2.c; the GGUF
      // converter stored SentencePiece spellings ("▁Once", "<s>") for the same ids
      if (_name.includes('GGUF')) expect(j.pieces.map((p: string) => (p === '<s>' ? '\n<s>\n' : p.replace(/\u2581/g, ' ')))).toEqual(c.pieces);
      else expect(j.pieces).toEqual(c.pieces);
      expect(j.count).toBe(c.ids.length);
      expect(j.text).toBe(c.text);
    }
    checkDocumented('tokenize', await json(['tokenize', ...base, '--text', 'Once upon a time']));
  });

  it('generate: 64 greedy ids equal refs/greedy.json', async () => {
    const g = storiesGreedy();
    const j = await json(['generate', ...base, '--prompt', 'Once upon a time', '--tokens', '64']);
    checkDocumented('generate', j);
    expect(j.promptIds).toEqual(g.prompt_ids);
    expect(j.generatedIds).toEqual(g.generated_ids);
    expect(j.pieces).toHaveLength(64);
    expect(j.prompt + j.text).toBe(readRef<{ decoded_text: string }>('stories260K/greedy.json').decoded_text);
    expect(j.prefillTokensPerSecond).toBeGreaterThan(0);
    expect(j.backend).toEqual(CPU_BACKEND);
  });

  it('logits: every position within 1e-4 of refs/logits_prompt.json', async () => {
    const ref = storiesLogits();
    const j = await json(['logits', ...base, '--text', 'Once upon a time']);
    checkDocumented('logits', j);
    expect(j.ids).toEqual(ref.ids);
    expect(j.vocabSize).toBe(512);
    expect(j.logits).toHaveLength(5);
    expectAllClose(j.logits.flat(), ref.logits.flat(), { atol: 1e-4, rtol: 0 }, 'CLI logits');
  });

  it('nll: equals the NLL computed here from the reference logits', async () => {
    const ref = storiesLogits();
    const want = refNll(ref.logits, ref.ids);
    const j = await json(['nll', ...base, '--text', 'Once upon a time']);
    checkDocumented('nll', j);
    // logits within 1e-4 move each NLL by at most 2e-4 (logsumexp and the target each by 1e-4)
    expectAllClose(j.tokenNll, want, { atol: 2e-4, rtol: 0 }, 'per-token NLL');
    expect(j.meanNll).toBeCloseTo(want.reduce((a, b) => a + b, 0) / 4, 3);
    expect(Math.abs(j.meanNll - want.reduce((a, b) => a + b, 0) / 4)).toBeLessThan(2e-4);
    expect(j.perplexity).toBeCloseTo(Math.exp(j.meanNll), 10);
    expect([j.tokens, j.scored, j.windows]).toEqual([5, 4, 1]);
  });
});

describe('nll and perplexity on files', () => {
  const story = readRef<{ decoded_text: string }>('stories260K/greedy.json').decoded_text;

  /** llama-perplexity's computation, re-done here on the CPU backend with our own chunking and logsumexp. */
  async function expectedPpl(modelFiles: { name: string; bytes: Uint8Array }[], text: string, ctx: number) {
    const model = loadModelFromFiles(modelFiles);
    const cpu = new CpuBackend(model);
    const ids = model.tokenizer.encode(text);
    const V = model.spec.vocabSize;
    const nll: number[] = [];
    const nChunk = Math.floor(ids.length / ctx);
    for (let c = 0; c < nChunk; c++) {
      const chunk = ids.slice(c * ctx, (c + 1) * ctx);
      if (model.tokenizer.addBosDefault && model.spec.bosId !== null) chunk[0] = model.spec.bosId;
      const { logits } = await cpu.forward(chunk);
      const rows = Array.from({ length: ctx }, (_, t) => Array.from(logits.subarray(t * V, (t + 1) * V)));
      nll.push(...refNll(rows, chunk).slice(Math.floor(ctx / 2)));
    }
    return { n: ids.length, chunks: nChunk, nll, ppl: Math.exp(nll.reduce((a, b) => a + b, 0) / nll.length) };
  }

  it('perplexity (stories260K, BOS replaced per chunk): equals a plain re-computation', async () => {
    const file = join(tmp, 'story.txt');
    writeFileSync(file, [story, story, story, story].join('\n'));
    const want = await expectedPpl(
      [{ name: 'stories260K.bin', bytes: readModelBytes('stories260K/stories260K.bin') }, { name: 'tok512.bin', bytes: readModelBytes('stories260K/tok512.bin') }],
      readFileSync(file, 'utf8'),
      64,
    );
    expect(want.n).toBeGreaterThanOrEqual(128);
    const j = await json(['perplexity', '--model', L2C, '--backend', 'cpu', '--file', file, '--ctx', '64']);
    checkDocumented('perplexity', j);
    expect(j.ctx).toBe(64);
    expect(j.chunks).toBe(want.chunks);
    expect(j.scored).toBe(want.chunks * (64 - 32 - 1));
    expect(j.perChunk).toHaveLength(want.chunks);
    expect(j.perplexity).toBeCloseTo(want.ppl, 9);
    expect(j.perChunk[want.chunks - 1]).toBeCloseTo(j.perplexity, 12);
    expect(j.nllStdErr).toBeGreaterThan(0);
    // human-readable form, as llama-perplexity prints it
    const h = await run(['perplexity', '--model', L2C, '--backend', 'cpu', '--file', file, '--ctx', '64']);
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/^\[1\]\d+\.\d{4},\[2\]/);
    expect(h.out).toMatch(/Final estimate: PPL = \d+\.\d{4} \+\/- \d+\.\d{5}/);
    expect(h.out).toContain('backend: cpu (CPU (JavaScript reference))');
  });

  it('perplexity (kjv-gpt2-8L, no BOS): equals a plain re-computation', async () => {
    const file = join(tmp, 'kjv.txt');
    writeFileSync(file, 'In the beginning God created the heaven and the earth. And the earth was without form, and void; and darkness was upon the face of the deep.');
    const want = await expectedPpl(
      ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'].map((f) => ({ name: f, bytes: readModelBytes(`kjv-gpt2-8L/${f}`) })),
      readFileSync(file, 'utf8'),
      32,
    );
    const j = await json(['perplexity', ...KJV_ARGS, '--file', file, '--ctx', '32']);
    expect(j.chunks).toBe(want.chunks);
    expect(j.perplexity).toBeCloseTo(want.ppl, 9);
  });

  it('nll --file with --ctx: windows, and tokens counts every token of the text', async () => {
    const file = join(tmp, 'short.txt');
    writeFileSync(file, 'Once upon a time, there was a little girl named Lily.');
    const ids = tokCases[2].ids; // the same text with BOS: 16 tokens
    const j = await json(['nll', '--model', L2C, '--backend', 'cpu', '--file', file, '--ctx', '5']);
    // windows of 5: [0..4] [5..9] [10..14] [15]: the last has nothing to predict
    expect([j.tokens, j.windows, j.scored]).toEqual([ids.length, 3, 12]);
    expect(j.tokenNll).toHaveLength(12);
  });
});

describe('kjv-gpt2-8L through the CLI', () => {
  it('tokenize, 64 greedy bytes, logits within 1e-4 of the PyTorch float64 reference, nll', async () => {
    const ref = kjvLogits();
    expect((await json(['tokenize', ...KJV_ARGS, '--text', 'In the beginning'])).ids).toEqual(ref.ids);
    const g = kjvGreedy();
    const gen = await json(['generate', ...KJV_ARGS, '--prompt', 'In the beginning', '--tokens', '64']);
    expect(gen.promptIds).toEqual(g.prompt_ids);
    expect(gen.generatedIds).toEqual(g.generated_ids);
    const lg = await json(['logits', ...KJV_ARGS, '--text', 'In the beginning']);
    expectAllClose(lg.logits.flat(), ref.logits.flat(), { atol: 1e-4, rtol: 0 }, 'kjv CLI logits');
    const want = refNll(ref.logits, ref.ids);
    const n = await json(['nll', ...KJV_ARGS, '--text', 'In the beginning']);
    expectAllClose(n.tokenNll, want, { atol: 2e-4, rtol: 0 }, 'kjv per-token NLL');
    expect([n.tokens, n.scored]).toEqual([16, 15]);
  });
});

describe('human-readable output names the backend', () => {
  it.each([
    [['info', '--model', L2C, '--backend', 'cpu']],
    [['tokenize', '--model', L2C, '--backend', 'cpu', '--text', 'Once upon a time']],
    [['generate', '--model', L2C, '--backend', 'cpu', '--prompt', 'Once upon a time', '--tokens', '4']],
    [['logits', '--model', L2C, '--backend', 'cpu', '--text', 'Once upon a time']],
    [['nll', '--model', L2C, '--backend', 'cpu', '--text', 'Once upon a time']],
  ])('%o', async (args) => {
    const r = await run(args);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toContain('backend: cpu (CPU (JavaScript reference))');
  });
});

describe('errors: non-zero exit, a clear message on stderr, nothing on stdout', () => {
  async function fails(args: string[], code: number, msg: RegExp) {
    const r = await run(args);
    expect(r.out, `stdout of ${args.join(' ')}`).toBe('');
    expect(r.code, `exit code of ${args.join(' ')}: ${r.err}`).toBe(code);
    expect(r.err).toMatch(/^layerlab: /);
    expect(r.err).toMatch(msg);
  }

  it('missing --model (usage error, 2)', () => fails(['info', '--json'], 2, /--model is required/));
  it('--model without a value (2)', () => fails(['info', '--model'], 2, /--model needs a value/));
  it('a nonexistent file (1)', () => fails(['info', '--model', join(tmp, 'nope.gguf'), '--json'], 1, /no such file or folder: .*nope\.gguf/));
  it('a truncated GGUF (1)', async () => {
    const f = join(tmp, 'truncated.gguf');
    writeFileSync(f, readModelBytes('stories260K-gguf/stories260K.gguf').subarray(0, 1000));
    await fails(['info', '--model', f, '--backend', 'cpu', '--json'], 1, /truncated/i);
  });
  it('an unknown command (2)', () => fails(['frobnicate', '--model', L2C], 2, /unknown command "frobnicate"/));
  it('a bad --backend (2)', () => fails(['info', '--model', L2C, '--backend', 'tpu', '--json'], 2, /--backend must be gpu, cpu or auto, got "tpu"/));
  it('perplexity --ctx larger than the model\'s context (1)', async () => {
    const file = join(tmp, 'ctx.txt');
    writeFileSync(file, 'Once upon a time. '.repeat(400));
    await fails(['perplexity', '--model', L2C, '--backend', 'cpu', '--file', file, '--ctx', '1024', '--json'], 1, /--ctx 1024 exceeds the model's context length 512/);
  });
  it('perplexity on a text shorter than 2 * ctx (1)', async () => {
    const file = join(tmp, 'tiny.txt');
    writeFileSync(file, 'Once upon a time');
    await fails(['perplexity', '--model', L2C, '--backend', 'cpu', '--file', file, '--ctx', '64', '--json'], 1, /needs at least 128 \(2 \* ctx/);
  });
  it('a non-integer --tokens (2)', () => fails(['generate', '--model', L2C, '--backend', 'cpu', '--prompt', 'x', '--tokens', 'many'], 2, /--tokens must be an integer, got "many"/));
  it('nll without --text or --file (2)', () => fails(['nll', '--model', L2C, '--backend', 'cpu'], 2, /give --text TEXT or --file FILE/));
  it('nll --ctx 1 (1)', () => fails(['nll', '--model', L2C, '--backend', 'cpu', '--text', 'Once upon a time', '--ctx', '1'], 1, /--ctx must be an integer >= 2/));
  it('an invalid sampling option (1)', () => fails(['generate', '--model', L2C, '--backend', 'cpu', '--prompt', 'x', '--tokens', '2', '--temperature', '1', '--top-p', '1.5'], 1, /top-p must be in \(0, 1\]/));
  it('a misspelt option is refused, not ignored (2)', () =>
    fails(['generate', '--model', L2C, '--backend', 'cpu', '--prompt', 'x', '--tokens', '2', '--temprature', '0.8'], 2, /unknown option --temprature/));
  it('no command: usage on stderr (2)', () => fails([], 2, /Commands:/));
  it('a llama2.c checkpoint without its tokenizer (1)', async () => {
    const dir = join(tmp, 'lonely');
    mkdirSync(dir, { recursive: true });
    const f = join(dir, 'model.bin');
    writeFileSync(f, readModelBytes('stories260K/stories260K.bin'));
    await fails(['info', '--model', f, '--backend', 'cpu'], 1, /needs its tokenizer file/);
  });
  it('--help prints the usage on stdout and exits 0', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('Commands:');
    expect(r.err).toBe('');
  });
});

describe('the real binary (npx layerlab path)', () => {
  it('node bin/layerlab.mjs info --model ../shared/models/stories260K/stories260K.bin --json', async () => {
    const { stdout, stderr, code } = await new Promise<{ stdout: string; stderr: string; code: number }>((res) => {
      execFile(process.execPath, ['bin/layerlab.mjs', 'info', '--model', L2C, '--json'], { cwd: repoRoot, timeout: 90_000, maxBuffer: 16 << 20 }, (e, stdout, stderr) =>
        res({ stdout, stderr, code: e ? ((e as { code?: number }).code ?? 1) : 0 }),
      );
    });
    expect(code, stderr).toBe(0);
    const j = JSON.parse(stdout);
    expect(j.spec.nLayers).toBe(5);
    expect(j.parameters).toBe(260032);
    expect(['gpu', 'cpu']).toContain(j.backend.kind);
    expect(typeof j.backend.adapter).toBe('string');
    checkDocumented('info', j);
  });
});
