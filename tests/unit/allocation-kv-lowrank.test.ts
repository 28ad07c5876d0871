// K/V cache bits and low-rank factors on the CPU reference:
// - kvQuantizeInPlace on hand-computed groups (per-token asymmetric min-max, groups of min(32, D) that
//   never cross a head; 16 bits = unchanged);
// - a model with kvBits quantizes exactly what is written to the cache: token-by-token decoding equals one
//   prefill (per-token groups do not depend on other tokens), and on stories260K 8-bit K/V gives a tiny
//   KL against the original while 2-bit gives a much larger one;
// - a rank-only plan keeps the factors A = U_r S_r, B = V_r^T: A B is the rank-r SVD (compared with the
//   independent dense lowRank()), the size report counts (rows + cols) * r * 4 bytes, and the two-matmul
//   forward equals the forward over the dense product within f32 rounding.
import { describe, expect, it } from 'vitest';
import { readModelBytes } from '../helpers/models.ts';
import { expectAllClose } from '../helpers/close.ts';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { kvQuantizeInPlace } from '../../src/core/ops/kv-quant.ts';
import { lowRankOf, type ModelWithKvBits } from '../../src/core/model/forward.ts';
import { tensorToF32 } from '../../src/core/model/weights.ts';
import { applyAllocation, lowRank } from '../../src/core/allocation/apply-weights.ts';
import { compareModels } from '../../src/core/allocation/compare.ts';
import { ALLOCATION_SCHEMA } from '../../src/core/allocation/schema.ts';
import type { LoadedModel } from '../../src/core/formats/types.ts';
import { parseGguf } from '../../src/core/formats/gguf.ts';
import { modifiedModelGguf } from '../../src/core/formats/gguf-write.ts';

const ggufBytes = readModelBytes('stories260K-gguf/stories260K.gguf');
const model = loadModelFromFiles([{ name: 'stories260K.gguf', bytes: ggufBytes }], { contextLength: 512 });
const head = { schema: ALLOCATION_SCHEMA, model: { name: 'stories260K', arch: 'llama', nLayers: 5 } };
const TEXT = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.';
const ids = model.tokenizer.encode(TEXT, { addBos: true });

describe('kvQuantizeInPlace (hand-checked)', () => {
  it('one group of 4 at 2 and 1 bits; 16 bits unchanged', () => {
    // lo = -1, hi = 2, 2 bits: s = 3/3 = 1; (x - lo)/s = [0, 1.5, 3, 2.4] -> floor(+0.5) = [0, 2, 3, 2] -> [-1, 1, 2, 1].
    expect(Array.from(kvQuantizeInPlace(new Float32Array([-1, 0.5, 2, 1.4]), 1, 1, 4, 2))).toEqual([-1, 1, 2, 1]);
    // 1 bit: s = 3; t = [0, 0.5, 1, 0.8] -> [0, 1, 1, 1] -> [-1, 2, 2, 2].
    expect(Array.from(kvQuantizeInPlace(new Float32Array([-1, 0.5, 2, 1.4]), 1, 1, 4, 1))).toEqual([-1, 2, 2, 2]);
    const x = new Float32Array([0.1, 0.2, 0.3, 0.7]);
    expect(Array.from(kvQuantizeInPlace(x.slice(), 1, 1, 4, 16))).toEqual(Array.from(x));
  });

  it('groups stop at head boundaries; a constant group is exact; tokens are independent', () => {
    // T = 2 tokens, Hkv = 2 heads of D = 3, 2 bits.
    // token 0 head 0 [0, 1, 3]: s = 1 -> [0, 1, 3]; head 1 [10, 10, 10]: constant, unchanged.
    // token 1 head 0 [0, 0.9, 0.3]: s = 0.3 -> t = [0, 3, 1] -> [0, 0.9, 0.3]; head 1 [5, 6.4, 8]: s = 1, t = [0, 1.4, 3] -> [5, 6, 8].
    const x = new Float32Array([0, 1, 3, 10, 10, 10, 0, 0.9, 0.3, 5, 6.4, 8]);
    expectAllClose(kvQuantizeInPlace(x, 2, 2, 3, 2), [0, 1, 3, 10, 10, 10, 0, 0.9, 0.3, 5, 6, 8], { atol: 1e-6, rtol: 0 });
  });

  it('D = 40: groups of 32 and 8 along head_dim', () => {
    // Values 0..39 at 1 bit: group [0..31] lo 0, s 31 -> 0 or 31 (x >= 15.5 rounds up);
    // group [32..39] lo 32, s 7 -> 32 or 39 (x - 32 >= 3.5).
    const x = Float32Array.from({ length: 40 }, (_, i) => i);
    const want = Array.from({ length: 40 }, (_, i) => (i < 32 ? (i >= 16 ? 31 : 0) : i - 32 >= 4 ? 39 : 32));
    expect(Array.from(kvQuantizeInPlace(x, 1, 1, 40, 1))).toEqual(want);
  });
});

describe('K/V cache bits in the CPU forward (stories260K)', () => {
  const withKv = (k: number, v: number): LoadedModel => applyAllocation(model, { ...head, layers: Object.fromEntries([0, 1, 2, 3, 4].map((l) => [l, { kvBits: { k, v } }])) }).model;

  it('the applied model carries the bits; 16/16 equals the original exactly', async () => {
    expect((withKv(4, 2) as ModelWithKvBits).kvBits?.[3]).toEqual({ k: 4, v: 2 });
    // Cache bits per token: stories260K has 4 KV heads of D = 8 (one group each): K at 4 bits = 4 * (8 * 4 + 32),
    // V at 2 bits = 4 * (8 * 2 + 32), per layer; block 1 drops its attention (no cache); base 2 * 4 * 8 * 16 per layer.
    const size = applyAllocation(model, { ...head, layers: { 0: { kvBits: { k: 4, v: 2 } }, 1: { drop: 'attn' }, 2: { kvBits: { k: 8, v: 16 } } } }).size;
    expect(size.kvCacheBitsPerToken).toBe(4 * 64 + 4 * 48 + 0 + (4 * 96 + 512) + 2 * 1024);
    expect(size.baseKvCacheBitsPerToken).toBe(5 * 1024);
    const a = await new CpuBackend(model).forward(ids);
    const b = await new CpuBackend(withKv(16, 16)).forward(ids);
    expect(Array.from(b.logits)).toEqual(Array.from(a.logits));
  });

  it('token-by-token decoding equals one prefill (per-token quantization on write)', async () => {
    const be = new CpuBackend(withKv(3, 3));
    const full = await be.forward(ids.slice(0, 12));
    const s = be.session(12);
    const rows: number[] = [];
    for (const id of ids.slice(0, 12)) rows.push(...(await s.append([id])).logits);
    expectAllClose(rows, full.logits, { atol: 1e-5, rtol: 1e-5 });
  });

  it('8-bit K/V: tiny KL; 2-bit: much larger', async () => {
    const base = new CpuBackend(model);
    const kl = async (bits: number) => (await compareModels(base, new CpuBackend(withKv(bits, bits)), ids, { decodeTokens: 0 })).kl;
    const k8 = await kl(8);
    const k2 = await kl(2);
    expect(k8).toBeGreaterThan(0);
    expect(k8).toBeLessThan(1e-3);
    expect(k2).toBeGreaterThan(20 * k8);
  });
});

describe('rank-r plans as factors', () => {
  const plan = { ...head, tensors: { 'blk.0.attn_q': { rank: 4 }, 'blk.2.ffn_down': { rank: 8 }, 'blk.4.attn_v': { rank: 3 }, 'blk.1.ffn_up': { rank: 5, format: 'Q8_0' } } };
  const ap = applyAllocation(model, plan);

  it('A B equals the dense rank-r SVD; bytes are (rows + cols) * r * 4', () => {
    for (const [name, r] of [['blk.0.attn_q', 4], ['blk.2.ffn_down', 8], ['blk.4.attn_v', 3]] as const) {
      const t = ap.model.tensors.get(name)!;
      const f = lowRankOf(t)!;
      const [rows, cols] = t.shape;
      expect(f.rank).toBe(r);
      expect(f.a.shape).toEqual([rows, r]);
      expect(f.b.shape).toEqual([r, cols]);
      const dense = lowRank(tensorToF32(model.tensors.get(name)!), rows, cols, r);
      expectAllClose(tensorToF32(t), dense, { atol: 1e-5, rtol: 1e-4 }, name);
      const rep = ap.tensors.find((x) => x.name === name)!;
      expect(rep.bytes).toBe((rows + cols) * r * 4);
    }
    // Rank with a format stays dense (quantized product), no factors.
    expect(lowRankOf(ap.model.tensors.get('blk.1.ffn_up'))).toBeUndefined();
    const base = applyAllocation(model, { ...head, tensors: { 'blk.1.ffn_up': { rank: 5, format: 'Q8_0' } } }).size.residentBytes;
    const saved = [[64, 64, 4], [64, 172, 8], [32, 64, 3]].reduce((a, [r, c, k]) => a + r * c * 4 - (r + c) * k * 4, 0);
    expect(base - ap.size.residentBytes).toBe(saved);
  });

  it('the GGUF export writes the dense product A B (read back by the parser)', () => {
    const g = modifiedModelGguf({ file: parseGguf(ggufBytes), bytes: ggufBytes }, ap.model, ap.interventions);
    const back = loadModelFromFiles([{ name: 'x.gguf', bytes: g.bytes }], { contextLength: 512 });
    for (const name of ['blk.0.attn_q', 'blk.2.ffn_down']) {
      const t = ap.model.tensors.get(name)!;
      const f = lowRankOf(t)!;
      const [rows, cols] = t.shape;
      const a = tensorToF32(f.a), b = tensorToF32(f.b);
      const prod = new Float32Array(rows * cols);
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) { let acc = 0; for (let k = 0; k < f.rank; k++) acc += a[i * f.rank + k] * b[k * cols + j]; prod[i * cols + j] = acc; }
      expectAllClose(tensorToF32(back.tensors.get(name)!), prod, { atol: 1e-6, rtol: 1e-6 }, name);
    }
  });

  it('the two-matmul forward equals the forward over the dense product', async () => {
    // Same real numbers; they differ only by the f32 rounding of the stored product entries and of the
    // [T, r] intermediate (relative 2^-24 each), carried through 5 blocks: far below 1e-4 on logits of
    // magnitude ~10.
    const dense: LoadedModel = { ...ap.model, tensors: new Map([...ap.model.tensors].map(([n, t]) => [n, { name: t.name, type: t.type, shape: t.shape, data: t.data }])) };
    const a = await new CpuBackend(ap.model).forward(ids);
    const b = await new CpuBackend(dense).forward(ids);
    expectAllClose(a.logits, b.logits, { atol: 1e-4, rtol: 1e-4 });
    const orig = await new CpuBackend(model).forward(ids);
    expect(Math.max(...a.logits.map((x, i) => Math.abs(x - orig.logits[i])))).toBeGreaterThan(1e-2);
  });
});
