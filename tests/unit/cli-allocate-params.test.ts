// The parameter-ratio and K/V-bits paths of the CLI, in-process on stories260K (GGUF, --context 512, CPU):
// - allocate --strategy drank / owl / solve with --budget params=R writes valid allocations whose applied
//   models keep at most R of the blocks' linear-weight parameters (counted here from the applied tensors:
//   factor shapes, non-zeros, dropped parts);
// - compare on allocations with 8-bit and 2-bit K/V caches everywhere: 8-bit gives a tiny KL, 2-bit a much
//   larger one, and compare reports prefill / decode tokens/s, per-token KL and chunked perplexity.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, runCliJson } from '../helpers/cli.ts';
import { modelPath, readModelBytes } from '../helpers/models.ts';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import { applyAllocation } from '../../src/core/allocation/apply-weights.ts';
import { blockMatrices } from '../../src/core/allocation/param-budget.ts';
import { lowRankOf } from '../../src/core/model/forward.ts';
import { tensorToF32 } from '../../src/core/model/weights.ts';

const dir = mkdtempSync(join(tmpdir(), 'layerlab-params-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const MODEL = ['--model', modelPath('stories260K-gguf/stories260K.gguf'), '--context', '512', '--backend', 'cpu'];
const TEXT = ['--text', 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friend.'];
const model = loadModelFromFiles([{ name: 's.gguf', bytes: readModelBytes('stories260K-gguf/stories260K.gguf') }], { contextLength: 512 });
const TOTAL = 5 * 45312;

function kept(file: string): number {
  const ap = applyAllocation(model, JSON.parse(readFileSync(file, 'utf8')));
  const dropped = new Set(ap.plan.tensors.filter((t) => t.dropped).map((t) => t.name));
  let n = 0;
  for (const m of blockMatrices(model.spec)) {
    if (dropped.has(m.name)) continue;
    const t = ap.model.tensors.get(m.name)!;
    const f = lowRankOf(t);
    n += f ? (m.rows + m.cols) * f.rank : tensorToF32(t).reduce((a, v) => a + (v !== 0 ? 1 : 0), 0);
  }
  return n;
}

describe('layerlab allocate with --budget params=R', () => {
  it('drank: ranks from effective rank within the budget; compare reports factor bytes', async () => {
    const f = join(dir, 'drank.json');
    const r = await runCliJson(['allocate', ...MODEL, '--strategy', 'drank', '--budget', 'params=0.4', '--out', f, ...TEXT]);
    expect(r.allocation.strategy.name).toBe('drank');
    expect(Object.keys(r.allocation.tensors).length).toBeGreaterThan(0);
    expect(kept(f)).toBeLessThanOrEqual(0.4 * TOTAL);
    const c = await runCliJson(['compare', ...MODEL, '--alloc', f, ...TEXT, '--decode-tokens', '0']);
    expect(c.kl).toBeGreaterThan(0);
    // Resident bytes fall by exactly (dense - factors) * 4 for each factorized matrix.
    let saved = 0;
    for (const [name, e] of Object.entries(r.allocation.tensors as Record<string, { rank: number }>)) {
      const [rows, cols] = model.tensors.get(name)!.shape;
      saved += (rows * cols - (rows + cols) * e.rank) * 4;
    }
    expect(c.size.baseResidentBytes - c.size.residentBytes).toBe(saved);
  }, 60_000);

  it('owl: per-block sparsity from outlier ratios within the budget', async () => {
    const f = join(dir, 'owl.json');
    const r = await runCliJson(['allocate', ...MODEL, '--strategy', 'owl', '--budget', 'params=0.6', '--lambda', '0.1', '--sparsity-method', 'magnitude', '--out', f, ...TEXT]);
    expect(r.allocation.strategy.name).toBe('owl');
    const ratios = [0, 1, 2, 3, 4].map((l) => r.allocation.tensors[`blk.${l}.attn_q`].sparsity.ratio as number);
    for (let l = 0; l < 5; l++) for (const s of ['attn_k', 'ffn_down']) expect(r.allocation.tensors[`blk.${l}.${s}`].sparsity.ratio).toBe(ratios[l]);
    // OWL: sparsities average 1 - R and span 2 lambda; the block with the most outliers is pruned least.
    expect(Math.max(...ratios) - Math.min(...ratios)).toBeCloseTo(0.2, 3);
    expect(ratios.reduce((a, b) => a + b, 0) / 5).toBeCloseTo(0.4, 3);
    const d: number[] = r.allocation.strategy.outlierRatio;
    expect(ratios.indexOf(Math.min(...ratios))).toBe(d.indexOf(Math.max(...d)));
    expect(kept(f)).toBeLessThanOrEqual(0.6 * TOTAL);
  }, 60_000);

  it('solve: keep / drop attn, mlp / rank options under params=0.5', async () => {
    const f = join(dir, 'solve.json');
    const r = await runCliJson(['allocate', ...MODEL, '--strategy', 'solve', '--budget', 'params=0.5', '--ranks', '0.25,0.5', '--drop', 'attn,mlp', '--out', f, ...TEXT]);
    expect(r.allocation.strategy.name).toBe('solve');
    expect(kept(f)).toBeLessThanOrEqual(0.5 * TOTAL);
    expect(kept(f)).toBe(r.allocation.strategy.cost);
    const bad = await runCli(['allocate', ...MODEL, '--strategy', 'drank', '--budget', 'params=1.5', '--out', f, ...TEXT]);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/params=R/);
  }, 120_000);
});

describe('layerlab compare with K/V cache bits', () => {
  it('8-bit K/V: tiny KL; 2-bit: much larger; speed, per-token KL, chunked perplexity reported', async () => {
    const kl: Record<number, number> = {};
    for (const bits of [8, 2]) {
      const f = join(dir, `kv${bits}.json`);
      writeFileSync(f, JSON.stringify({ schema: 'layerlab.allocation/1', model: { name: 'stories260K', arch: 'llama', nLayers: 5 }, layers: Object.fromEntries([0, 1, 2, 3, 4].map((l) => [l, { kvBits: { k: bits, v: bits } }])) }));
      const c = await runCliJson(['compare', ...MODEL, '--alloc', f, ...TEXT, '--decode-tokens', '2', '--ctx', '16']);
      kl[bits] = c.kl;
      expect(c.klPerToken).toHaveLength(c.tokens);
      expect(c.modified.prefillTokensPerSecond).toBeGreaterThan(0);
      expect(c.modified.decodeTokensPerSecond).toBeGreaterThan(0);
      expect(c.chunked.ctx).toBe(16);
      expect(c.chunked.modified.perplexity).toBeGreaterThan(1);
      expect(c.size.residentBytes).toBe(c.size.baseResidentBytes);
    }
    expect(kl[8]).toBeLessThan(1e-3);
    expect(kl[2]).toBeGreaterThan(20 * kl[8]);
    expect(kl[2]).toBeGreaterThan(0.01);
  }, 60_000);
});
