// compare --prompt: side-by-side generation of the original and the modified model from one prompt and
// seed (issue 4), through the CLI (main(argv), stories260K GGUF, --context 512, CPU backend). Expected
// values come from independent runs in this file: plain generate() on a CpuBackend of the original and of
// applyAllocation's model, the first differing index found by a loop here, and, for dropped blocks, a
// teacher-forced greedy check with full forwards (no KV cache, no generate()). firstDivergence itself is
// checked on hand-made cases.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, runCliJson } from '../helpers/cli.ts';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { generate } from '../../src/core/eval/generate.ts';
import { applyAllocation } from '../../src/core/allocation/apply-weights.ts';
import { firstDivergence, markDivergence } from '../../src/core/allocation/compare.ts';
import { ALLOCATION_SCHEMA } from '../../src/core/allocation/schema.ts';
import type { Intervention } from '../../src/core/model/taps.ts';
import { modelPath, readModelBytes } from '../helpers/models.ts';

const run = runCli;
const runJson = runCliJson;

const dir = mkdtempSync(join(tmpdir(), 'layerlab-cmpgen-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const MODEL = ['--model', modelPath('stories260K-gguf/stories260K.gguf'), '--context', '512', '--backend', 'cpu'];
const TEXT = ['--text', 'Once upon a time, there was a little girl named Lily.'];
const PROMPT = 'Once upon a time, there was a little girl';
const head = { schema: ALLOCATION_SCHEMA, model: { name: 'stories260K', arch: 'llama', nLayers: 5 } };
const model = loadModelFromFiles([{ name: 'stories260K.gguf', bytes: readModelBytes('stories260K-gguf/stories260K.gguf') }], { contextLength: 512 });
const promptIds = model.tokenizer.encode(PROMPT);

/** The index of the first differing id, written here independently of firstDivergence. */
function diverge(a: number[], b: number[]): number | null {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i === a.length && i === b.length ? null : i;
}

function argmaxLast(z: Float32Array, V: number): number {
  const o = z.length - V;
  let best = 0;
  for (let v = 1; v < V; v++) if (z[o + v] > z[o + best]) best = v;
  return best;
}

describe('firstDivergence / markDivergence', () => {
  it('hand cases', () => {
    expect(firstDivergence([1, 2, 3], [1, 2, 3])).toBeNull();
    expect(firstDivergence([], [])).toBeNull();
    expect(firstDivergence([5, 2, 3], [1, 2, 3])).toBe(0);
    expect(firstDivergence([1, 2, 3], [1, 2, 4])).toBe(2);
    expect(firstDivergence([1, 2], [1, 2, 9])).toBe(2); // one stopped early (EOS)
    const dec = (ids: number[]) => ids.map((i) => ['a', 'b', 'c', 'd'][i]).join('');
    expect(markDivergence([0, 1, 2], 1, dec)).toBe('a|bc');
    expect(markDivergence([0, 1, 2], null, dec)).toBe('abc');
    expect(markDivergence([0, 1, 2], 0, dec, '[...]')).toBe('[...]abc');
  });
});

describe('layerlab compare --prompt: side-by-side generation', () => {
  it('all-Q8_0, greedy 32 tokens: base = plain generate() of the original, modified = generate() of the Q8_0 model', async () => {
    const q8 = join(dir, 'q8.json');
    const alloc = { ...head, layers: Object.fromEntries([0, 1, 2, 3, 4].map((l) => [String(l), { format: 'Q8_0' }])) };
    writeFileSync(q8, JSON.stringify(alloc));
    const c = await runJson(['compare', ...MODEL, '--alloc', q8, ...TEXT, '--decode-tokens', '1', '--prompt', PROMPT, '--tokens', '32']);
    const g = c.generation;
    expect(g.prompt).toBe(PROMPT);
    expect(g.promptIds).toEqual(promptIds);

    const base = await generate(new CpuBackend(model), promptIds, { maxTokens: 32 });
    const applied = applyAllocation(model, alloc);
    const mod = await generate(new CpuBackend(applied.model), promptIds, { maxTokens: 32 });
    expect(g.base.ids).toEqual(base.generatedIds);
    expect(g.modified.ids).toEqual(mod.generatedIds);
    expect(g.base.ids).toHaveLength(32);
    expect(g.base.text).toBe(model.tokenizer.decode(base.generatedIds));
    expect(g.modified.text).toBe(model.tokenizer.decode(mod.generatedIds));
    expect(g.firstDivergence).toBe(diverge(base.generatedIds, mod.generatedIds));
  });

  it('3 of 5 blocks dropped diverges early; the modified ids are the greedy choices of full forwards with the drops', async () => {
    const f = join(dir, 'drop3.json');
    writeFileSync(f, JSON.stringify({ ...head, layers: { 1: { drop: 'block' }, 2: { drop: 'block' }, 3: { drop: 'block' } } }));
    const c = await runJson(['compare', ...MODEL, '--alloc', f, ...TEXT, '--decode-tokens', '1', '--prompt', PROMPT, '--tokens', '16']);
    const g = c.generation;
    const be = new CpuBackend(model);
    const base = await generate(be, promptIds, { maxTokens: 16 });
    expect(g.base.ids).toEqual(base.generatedIds);
    const ivs: Intervention[] = [1, 2, 3].map((layer) => ({ kind: 'skip-block', layer }));
    const V = model.spec.vocabSize;
    const seq = promptIds.slice();
    for (let i = 0; i < 16; i++) {
      const r = await be.forward(seq, { interventions: ivs });
      const id = argmaxLast(r.logits, V);
      expect(g.modified.ids[i], `step ${i}`).toBe(id);
      seq.push(id);
    }
    const want = diverge(base.generatedIds, g.modified.ids);
    expect(want).not.toBeNull();
    expect(g.firstDivergence).toBe(want);
    expect(g.firstDivergence).toBeLessThan(4);

    // Human output: the divergence is marked with | in both lines.
    const h = await run(['compare', ...MODEL, '--alloc', f, ...TEXT, '--decode-tokens', '1', '--prompt', PROMPT, '--tokens', '16']);
    expect(h.code).toBe(0);
    expect(h.out).toMatch(new RegExp(`first divergence at generated token ${want}, marked \\|`));
    const line = (k: string) => h.out.split('\n').find((l) => l.trimStart().startsWith(`${k}:`) && l.includes('"'))!;
    expect(JSON.parse(line('base').replace(/^\s*base:\s*/, '')).replace('|', '')).toBe(g.base.text);
    expect(JSON.parse(line('modified').replace(/^\s*modified:\s*/, ''))).toContain('|');
  });

  it('without --prompt: generation is null; sampling options alone are refused', async () => {
    const f = join(dir, 'q4.json');
    writeFileSync(f, JSON.stringify({ ...head, layers: { 0: { format: 'Q4_0' } } }));
    const c = await runJson(['compare', ...MODEL, '--alloc', f, ...TEXT, '--decode-tokens', '0']);
    expect(c.generation).toBeNull();
    const r = await run(['compare', ...MODEL, '--alloc', f, ...TEXT, '--tokens', '8']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--tokens needs --prompt/);
  });
});
