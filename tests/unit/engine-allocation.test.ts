// The engine's allocation API (src/worker/engine-allocation.ts through the Engine methods the worker
// exposes) on the CPU backend: the page's requests give what the CLI's flags give (allocate, compare with
// generation, export), a given analysis is reused instead of measuring again (its ranking decides the
// blocks, by hand), drops of attention sublayers follow the order, a bad request is refused with text, and
// cancel stops a sweep between points.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/worker/engine.ts';
import { allocate, sweep, type AllocationHost } from '../../src/worker/engine-allocation.ts';
import { parseGguf } from '../../src/core/formats/gguf.ts';
import type { LayerScores } from '../../src/core/metrics/types.ts';
import { modelPath, readModelBytes } from '../helpers/models.ts';
import { runCliJson } from '../helpers/cli.ts';

const GGUF = modelPath('stories260K-gguf/stories260K.gguf');
const TEXT = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.';
const tmp = mkdtempSync(join(tmpdir(), 'layerlab-engine-alloc-'));

async function cpuEngine(): Promise<Engine> {
  const e = new Engine(async () => null);
  await e.load({ kind: 'files', files: [{ name: 'stories260K.gguf', bytes: readModelBytes('stories260K-gguf/stories260K.gguf') }] }, { backend: 'cpu', contextLength: 512 });
  return e;
}

const MODEL = ['--model', GGUF, '--context', '512', '--backend', 'cpu'];

describe('engine allocation API', () => {
  it('allocate and compare through the Engine equal the CLI verbs', async () => {
    const e = await cpuEngine();
    const a = await e.allocate({ strategy: 'uniform', format: 'Q4_0' });
    const out = join(tmp, 'u.json');
    const cliA = await runCliJson(['allocate', ...MODEL, '--strategy', 'uniform', '--format', 'Q4_0', '--out', out]);
    expect(a.allocation).toEqual(cliA.allocation);
    expect(a.json).toBe(readFileSync(out, 'utf8'));
    const progress: string[] = [];
    const r = await e.compare({ allocation: a.allocation, text: TEXT, maxTokens: 20, generation: { prompt: 'Once', tokens: 6, seed: 3 } }, (p) => progress.push(p.what));
    const c = await runCliJson(['compare', ...MODEL, '--alloc', out, '--text', TEXT, '--max-tokens', '20', '--prompt', 'Once', '--tokens', '6', '--seed', '3']);
    // same code, same backend: identical numbers (timings aside)
    expect([r.base.meanNll, r.modified.meanNll, r.kl, r.top1]).toEqual([c.base.meanNll, c.modified.meanNll, c.kl, c.top1]);
    expect(r.klPerToken).toEqual(c.klPerToken);
    expect(r.size).toEqual(c.size);
    expect(r.generation?.base.ids).toEqual(c.generation.base.ids);
    expect(r.generation?.modified.ids).toEqual(c.generation.modified.ids);
    expect(r.generation?.base.pieces).toHaveLength(6);
    expect(progress).toContain('generation side by side');
    expect(r.tokens).toBe(20);
  });

  it('drank (params=R budget) through the Engine equals the CLI (the same core entry point)', async () => {
    const e = await cpuEngine();
    const a = await e.allocate({ strategy: 'drank', budget: 'params=0.6', text: TEXT, maxTokens: 24 });
    const cli = await runCliJson(['allocate', ...MODEL, '--strategy', 'drank', '--budget', 'params=0.6', '--text', TEXT, '--max-tokens', '24', '--out', join(tmp, 'd.json')]);
    expect(a.allocation).toEqual(cli.allocation);
    expect(a.scoresUsed).toBe('erank');
    expect(Object.values(a.allocation.tensors ?? {}).some((t) => t.rank !== undefined)).toBe(true);
  });

  it('reuses a given analysis: its ranking decides the blocks, and nothing is measured', async () => {
    const e = await cpuEngine();
    const h: AllocationHost = { ...e.allocationHost(), analyze: () => Promise.reject(new Error('must not measure')) };
    const scores: LayerScores = { metricId: 'cos', label: 'cos', unit: '', higherIsMoreImportant: true, perBlock: [0.9, 0.1, 0.5, 0.2, 0.7], ranking: [0, 4, 2, 3, 1] };
    const r = await allocate(h, { strategy: 'ranked', metric: 'cos', format: 'Q8_0', low: 'Q4_0', n: 2, analysis: { scores: [scores] } });
    // the two least important blocks (1 and 3) go to Q4_0
    expect(r.allocation.layers).toEqual({ 0: { format: 'Q8_0' }, 1: { format: 'Q4_0' }, 2: { format: 'Q8_0' }, 3: { format: 'Q4_0' }, 4: { format: 'Q8_0' } });
    expect(r.scoresUsed).toBe('cos');
    const d = await allocate(h, { strategy: 'reverse', metric: 'cos', drop: { what: 'attn', n: 1 }, analysis: { scores: [scores] } });
    // reverse: the most important block (0) drops its attention first
    expect(d.allocation.layers).toEqual({ 0: { drop: 'attn' } });
    await expect(allocate(h, { strategy: 'uniform', format: 'Q9_9' })).rejects.toThrow(/unknown weight format "Q9_9"/);
    await expect(allocate(h, { strategy: 'uniform', format: 'Q8_0', drop: { what: 'mlp', n: 1 } })).rejects.toThrow(/needs an order/);
  });

  it('exports a GGUF of the modified model as bytes; cancel stops a sweep', async () => {
    const e = await cpuEngine();
    const alloc = { schema: 'layerlab.allocation/1', model: { name: 'stories260K', arch: 'llama', nLayers: 5 }, layers: { 2: { drop: 'block' } } };
    const x = await e.exportAllocation({ allocation: alloc, to: 'gguf' });
    expect(x.bytes).toBeInstanceOf(Uint8Array);
    expect(x.size).toBe(x.bytes!.byteLength);
    const g = parseGguf(x.bytes!);
    expect(Number(g.metadata.get('llama.block_count'))).toBe(4);
    const j = await e.exportAllocation({ allocation: alloc, to: 'json' });
    expect(JSON.parse(j.text!)).toMatchObject({ layers: { 2: { drop: 'block' } } });

    let calls = 0;
    const h: AllocationHost = { ...e.allocationHost(), cancelled: () => ++calls > 2 };
    const scores: LayerScores = { metricId: 'cos', label: 'cos', unit: '', higherIsMoreImportant: true, perBlock: [5, 4, 3, 2, 1], ranking: [0, 1, 2, 3, 4] };
    await expect(sweep(h, { metric: 'cos', drop: ['block'], text: TEXT, maxTokens: 12, analysis: { scores: [scores] } })).rejects.toThrow(/cancelled/);
  });
});
