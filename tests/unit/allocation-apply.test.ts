// Applying an allocation's weight edits on the CPU:
// - stories260K uniform Q8_0: every block matrix is byte-identical to llama.cpp's own Q8_0 file
//   (../shared/models/stories260K-gguf/quantized, made by ggml's C quantizer; ffn_down F16 there too),
//   resident bytes and bits per weight equal the hand sums, the result runs on the CPU backend with a mean
//   KL below 0.01 against the F32 model, and its tensors dequantize within Q8_0's error bound;
// - hand-checked asymmetric intN, magnitude / Wanda / 2:4 masks and rank-r SVD on tiny matrices;
// - drops become interventions, plain formats are stored as F32 and say so, fingerprints are checked.
import { describe, expect, it } from 'vitest';
import { readModelBytes } from '../helpers/models.ts';
import { expectAllClose } from '../helpers/close.ts';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { compareLogits } from '../../src/core/metrics/divergence.ts';
import { dequantize, GGMLType } from '../../src/core/quant/index.ts';
import { singularValues } from '../../src/core/metrics/linalg.ts';
import { tensorToF32 } from '../../src/core/model/weights.ts';
import { applyAllocation, applySparsity, fakeQuantizeAsym, lowRank } from '../../src/core/allocation/apply-weights.ts';
import { ALLOCATION_SCHEMA, tensorsFingerprint } from '../../src/core/allocation/schema.ts';

const load = (rel: string) => loadModelFromFiles([{ name: rel.split('/').pop()!, bytes: readModelBytes(rel) }], { contextLength: 512 });
const f32 = load('stories260K-gguf/stories260K.gguf');
const head = { schema: ALLOCATION_SCHEMA, model: { name: 'stories260K', arch: 'llama', nLayers: 5 } };
const allQ8 = { ...head, layers: Object.fromEntries([0, 1, 2, 3, 4].map((l) => [l, { format: 'Q8_0' }])) };
const SUFFIXES = ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'];

describe('stories260K, every block at Q8_0', () => {
  const applied = applyAllocation(f32, allQ8);
  const ref = load('stories260K-gguf/quantized/stories260K-Q8_0.gguf');

  it('packs the same bytes as llama.cpp (ffn_down falls back to F16 as there)', () => {
    for (let l = 0; l < 5; l++) {
      for (const s of SUFFIXES) {
        const name = `blk.${l}.${s}`;
        const got = applied.model.tensors.get(name)!;
        const want = ref.tensors.get(name)!;
        expect(got.type, name).toBe(s === 'ffn_down' ? GGMLType.F16 : GGMLType.Q8_0);
        expect(got.type, name).toBe(want.type);
        expect(Buffer.from(got.data).equals(Buffer.from(want.data)), name).toBe(true);
      }
    }
    // Untouched tensors are shared, not copied.
    expect(applied.model.tensors.get('token_embd')).toBe(f32.tensors.get('token_embd'));
    expect(applied.plan.fallbacks.map((f) => f.name)).toEqual([0, 1, 2, 3, 4].map((l) => `blk.${l}.ffn_down`));
    expect(applied.tensors.find((t) => t.name === 'blk.0.ffn_down')!.notes.join(' ')).toContain('fallback Q8_0 -> F16');
    expect(applied.interventions).toEqual([]);
  });

  it('reports resident bytes and bits per weight from the tensors (hand sums)', () => {
    // Per block, values: attn_q 64x64 = 4096, attn_k/v 32x64 = 2048 each, attn_output 4096 -> 12288;
    // ffn_gate/up 172x64 = 11008 each -> 22016; ffn_down 64x172 = 11008. All 45312 values = 181248 F32 bytes.
    // Q8_0: 34 bytes per 32 values -> 12288 * 34/32 = 13056 and 22016 * 34/32 = 23392; F16 ffn_down 22016.
    const blockQ8 = 13056 + 23392 + 22016; // 58464
    let base = 0;
    for (const t of f32.tensors.values()) base += t.data.byteLength;
    expect(applied.size.baseResidentBytes).toBe(base);
    expect(applied.size.residentBytes).toBe(base - 5 * 181248 + 5 * blockQ8);
    // Matrices: token_embd 512x64 (F32) plus the 5 blocks (and output if the file has its own).
    const extra = [...f32.tensors.values()].filter((t) => t.shape.length === 2 && !t.name.startsWith('blk.'));
    const extraVals = extra.reduce((a, t) => a + t.shape[0] * t.shape[1], 0);
    expect(applied.size.matrixParams).toBe(extraVals + 5 * 45312);
    expect(applied.size.matrixBitsPerWeight).toBeCloseTo(((extraVals * 4 + 5 * blockQ8) * 8) / (extraVals + 5 * 45312), 12);
    const q = applied.tensors.find((t) => t.name === 'blk.3.attn_q')!;
    expect(q).toMatchObject({ type: 'Q8_0', bytes: 4352, bitsPerWeight: 8.5 });
    expect(applied.tensors.find((t) => t.name === 'blk.3.ffn_down')!.bitsPerWeight).toBe(16);
  });

  it('dequantizes within the Q8_0 error bound of the originals', () => {
    for (const s of ['attn_q', 'ffn_up']) {
      const name = `blk.2.${s}`;
      const orig = tensorToF32(f32.tensors.get(name)!);
      const got = dequantize(GGMLType.Q8_0, applied.model.tensors.get(name)!.data, orig.length);
      // |x - x~| <= d/2 + 127 * |d - fp16(d)| with d = amax/127 per 32 values; bounded by amax/254 + amax * 2^-11.
      for (let b = 0; b < orig.length; b += 32) {
        let amax = 0;
        for (let i = b; i < b + 32; i++) amax = Math.max(amax, Math.abs(orig[i]));
        expectAllClose(got.subarray(b, b + 32), orig.subarray(b, b + 32), { atol: amax / 254 + amax * 2 ** -11 + 1e-12, rtol: 0 }, `${name} block ${b / 32}`);
      }
    }
  });

  it('loads and runs: KL(F32 || all-Q8_0) < 0.01 on a stories prompt', async () => {
    const ids = f32.tokenizer.encode('Once upon a time, there was a little girl named Lily. She liked to play', { addBos: true });
    const a = await new CpuBackend(f32).forward(ids);
    const b = await new CpuBackend(applied.model).forward(ids);
    const d = compareLogits(a.logits, b.logits, ids.length, f32.spec.vocabSize);
    expect(d.kl).toBeGreaterThan(0); // it did change something
    expect(d.kl).toBeLessThan(0.01);
    expect(d.top1Agreement).toBeGreaterThan(0.9);
  });
});

describe('stories260K per-layer plan = llama.cpp\'s MIXED file', () => {
  it('blocks 0 and 4 at Q8_0, 1-3 at Q4_0, token_embd Q4_0, output Q8_0: every tensor byte-identical', () => {
    // The MIXED file's plan (its SOURCE.md): default q4_0, output q8_0, 'blk\\.[04]\\.=q8_0', ffn_down F16.
    // Tensor entries take precedence over the layer entry: block 1's attn_q asks Q8_0 and then Q4_0 again.
    const r = applyAllocation(f32, {
      ...head,
      layers: { 0: { format: 'Q8_0' }, 1: { format: 'Q8_0' }, 2: { format: 'Q4_0' }, 3: { format: 'Q4_0' }, 4: { format: 'Q8_0' } },
      tensors: Object.fromEntries([
        ['token_embd', { format: 'Q4_0' }], ['output', { format: 'Q8_0' }],
        ...SUFFIXES.map((s) => [`blk.1.${s}`, { format: 'Q4_0' }]),
      ]),
    });
    const ref = load('stories260K-gguf/quantized/stories260K-MIXED-Q8_0-Q4_0.gguf');
    expect([...r.model.tensors.keys()].sort()).toEqual([...ref.tensors.keys()].sort());
    for (const [name, want] of ref.tensors) {
      const got = r.model.tensors.get(name)!;
      expect(got.type, name).toBe(want.type);
      expect(Buffer.from(got.data).equals(Buffer.from(want.data)), name).toBe(true);
    }
    let fileBytes = 0;
    for (const t of ref.tensors.values()) fileBytes += t.data.byteLength;
    expect(r.size.residentBytes).toBe(fileBytes);
  });
});

describe('mixed edits on stories260K', () => {
  it('packs Q4_K requests as their fallbacks, drops as interventions, plain formats as F32', () => {
    const r = applyAllocation(f32, {
      ...head,
      layers: { 1: { format: 'Q4_K' }, 2: { drop: 'attn' }, 3: { drop: 'block' } },
      tensors: { 'blk.0.attn_q': { format: 'int4-g32-asym' }, 'blk.0.attn_k': { rank: 4 }, 'blk.0.ffn_up': { sparsity: { method: '2:4' } } },
    });
    expect(r.model.tensors.get('blk.1.attn_q')!.type).toBe(GGMLType.Q5_0);
    expect(r.model.tensors.get('blk.1.attn_q')!.data.byteLength).toBe((4096 / 32) * 22);
    expect(r.model.tensors.get('blk.1.ffn_down')!.type).toBe(GGMLType.F16);
    expect(r.interventions).toEqual([{ kind: 'skip-attn', layer: 2 }, { kind: 'skip-block', layer: 3 }]);
    expect(r.model.tensors.get('blk.0.attn_q')!.type).toBe(GGMLType.F32);
    expect(r.tensors.find((t) => t.name === 'blk.0.attn_q')!.notes.join(' ')).toContain('stored as F32 after dequantization');
    // Dropped bytes: block 2's attention (12288 F32 values + attn_norm 64) and all of block 3.
    const blk3 = [...f32.tensors.values()].filter((t) => t.name.startsWith('blk.3.')).reduce((a, t) => a + t.data.byteLength, 0);
    expect(r.size.droppedBytes).toBe((12288 + 64) * 4 + blk3);
    // 2:4: exactly half of every group of 4 is zero.
    const up = tensorToF32(r.model.tensors.get('blk.0.ffn_up')!);
    for (let g = 0; g < up.length; g += 4) expect([up[g], up[g + 1], up[g + 2], up[g + 3]].filter((v) => v === 0).length).toBe(2);
    // rank 4: the stored [32, 64] matrix has 4 nonzero singular values (the 5th is float32 noise).
    const k = tensorToF32(r.model.tensors.get('blk.0.attn_k')!);
    const sv = singularValues(k, 32, 64);
    expect(sv[3] / sv[0]).toBeGreaterThan(1e-3);
    expect(sv[4] / sv[0]).toBeLessThan(1e-5);
  });

  it('refuses an allocation made for other tensors, and lists every validation error', () => {
    const fp = tensorsFingerprint(f32.tensors.values());
    expect(() => applyAllocation(f32, { ...head, model: { ...head.model, tensors: fp } })).not.toThrow();
    expect(() => applyAllocation(f32, { ...head, model: { ...head.model, tensors: 'fnv1a:00000000' } })).toThrow(/made for tensors fnv1a:00000000/);
    expect(() => applyAllocation(f32, { ...head, layers: { 6: {}, 0: { format: 'Q3' } } })).toThrow(/layers\.0\.format: unknown weight format "Q3"[\s\S]*layers\.6: layer key "6" is not a block of this model \(allowed: 0\.\.4\)/);
  });
});

describe('hand-checked edits on tiny matrices', () => {
  it('asymmetric intN: min/max scale and zero point, halves away from zero', () => {
    // [-1, 0.5, 2] at 2 bits: levels 3, scale = 3/3 = 1, zero = round(1) = 1;
    // q = round(-1)+1 = 0 -> -1; round(0.5)+1 = 2 -> 1; round(2)+1 = 3 -> 2.
    expect(Array.from(fakeQuantizeAsym([-1, 0.5, 2], 1, 3, 2, 32))).toEqual([-1, 1, 2]);
    // Two groups of 2: [0, 3 | 10, 10]: first exact at 2 bits (scale 1, zero 0), second constant (exact).
    expect(Array.from(fakeQuantizeAsym([0, 3, 10, 10], 1, 4, 2, 2))).toEqual([0, 3, 10, 10]);
    // [0, 1, 2.2, 3, 4] at 2 bits: scale 4/3, zero 0: q = round(0.75)=1, round(1.65)=2, round(2.25)=2, 3.
    expectAllClose(fakeQuantizeAsym([0, 1, 2.2, 3, 4], 1, 5, 2, 32), [0, 4 / 3, 8 / 3, 8 / 3, 4], { atol: 1e-6, rtol: 0 });
    // The scale is stored as float32 (fround(4/3) > 4/3), so the exact tie 2 / (4/3) = 1.5 lands just below
    // 1.5 and rounds down: [0, 2, 4] -> [0, 4/3, 4].
    expectAllClose(fakeQuantizeAsym([0, 2, 4], 1, 3, 2, 32), [0, 4 / 3, 4], { atol: 1e-6, rtol: 0 });
  });

  it('magnitude, Wanda and 2:4 masks', () => {
    const m = new Float32Array([1, -4, 3, 2]);
    expect(applySparsity(m, 2, 2, { method: 'magnitude', ratio: 0.5 })).toBe(2);
    expect(Array.from(m)).toEqual([0, -4, 3, 0]);
    // Wanda with input norms [10, 1]: row 0 scores [10, 4] -> zero -4; row 1 scores [30, 2] -> zero 2.
    const w = new Float32Array([1, -4, 3, 2]);
    applySparsity(w, 2, 2, { method: 'wanda', ratio: 0.5 }, [10, 1]);
    expect(Array.from(w)).toEqual([1, 0, 3, 0]);
    // Without norms Wanda is per-row magnitude: row 0 [1, 4] -> zero 1.
    const w2 = new Float32Array([1, -4, 3, 2]);
    applySparsity(w2, 2, 2, { method: 'wanda', ratio: 0.5 });
    expect(Array.from(w2)).toEqual([0, -4, 3, 0]);
    const s = new Float32Array([1, -5, 3, 2, 0.5, 0.25, -1, 4]);
    applySparsity(s, 1, 8, { method: '2:4', ratio: 0.5 });
    expect(Array.from(s)).toEqual([0, -5, 3, 0, 0, 0, -1, 4]);
    // Ties keep the lower index: [1, 1, 1, 1] -> zero the first two.
    const t = new Float32Array([1, 1, 1, 1]);
    applySparsity(t, 1, 4, { method: '2:4', ratio: 0.5 });
    expect(Array.from(t)).toEqual([0, 0, 1, 1]);
  });

  it('rank-r SVD keeps the r largest singular directions', () => {
    // A = 3 e1 f1^T + 1 e2 f2^T with orthonormal e (R^3) and f (R^4): rank 1 keeps 3 e1 f1^T exactly.
    const e1 = [1 / Math.sqrt(2), 1 / Math.sqrt(2), 0], e2 = [1 / Math.sqrt(2), -1 / Math.sqrt(2), 0];
    const f1 = [0.5, 0.5, 0.5, 0.5], f2 = [0.5, -0.5, 0.5, -0.5];
    const A: number[] = [], A1: number[] = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) { A1.push(3 * e1[i] * f1[j]); A.push(3 * e1[i] * f1[j] + e2[i] * f2[j]); }
    expectAllClose(lowRank(A, 3, 4, 1), A1, { atol: 1e-6, rtol: 0 }, 'rank 1');
    expectAllClose(lowRank(A, 3, 4, 2), A, { atol: 1e-6, rtol: 0 }, 'rank 2');
  });
});
