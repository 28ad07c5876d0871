// Allocation schema: field-by-field errors (path, code, allowed), format parsing and bits per weight by
// hand, and the llama-quantize style fallback on stories260K (rows of 64 and 172 values).
import { describe, expect, it } from 'vitest';
import { readModelBytes } from '../helpers/models.ts';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import {
  ALLOCATION_SCHEMA, formatBitsPerWeight, parseWeightFormat, resolveGgufFormat, validateAllocation, type AllocationError,
} from '../../src/core/allocation/schema.ts';

const stories = loadModelFromFiles([{ name: 'stories260K.gguf', bytes: readModelBytes('stories260K-gguf/stories260K.gguf') }], { contextLength: 512 });
const spec = stories.spec;
const base = { schema: ALLOCATION_SCHEMA, model: { name: 'stories260K', arch: 'llama', nLayers: 5 } };

function errorsOf(json: unknown): AllocationError[] {
  const r = validateAllocation(json, spec);
  expect(r.ok).toBe(false);
  return r.ok ? [] : r.errors;
}

describe('stories260K geometry the fallbacks below rely on', () => {
  it('has 5 blocks, d 64, GQA 8/4 x 8, ff 172', () => {
    expect([spec.nLayers, spec.dModel, spec.nHeads, spec.nKvHeads, spec.headDim, spec.dFF]).toEqual([5, 64, 8, 4, 8, 172]);
  });
});

describe('validateAllocation errors', () => {
  it('accepts an empty allocation and a full one', () => {
    expect(validateAllocation(base, spec).ok).toBe(true);
    const full = {
      ...base,
      strategy: { name: 'hand' },
      layers: { 0: { format: 'q8_0', kvBits: { k: 8, v: 4 } }, 2: { drop: 'attn' }, 4: { drop: 'block' } },
      tensors: { 'blk.1.attn_q': { format: 'int4-g64-asym', rank: 8, sparsity: { method: 'wanda', ratio: 0.5 } }, token_embd: { format: 'Q8_0' } },
    };
    const r = validateAllocation(full, spec);
    expect(r.ok).toBe(true);
    if (!r.ok || !r.plan) return;
    expect(r.plan.interventions).toEqual([{ kind: 'skip-attn', layer: 2 }, { kind: 'skip-block', layer: 4 }]);
    expect(r.plan.kvBits).toEqual([{ layer: 0, k: 8, v: 4 }]);
    const q = r.plan.tensors.find((t) => t.name === 'blk.1.attn_q')!;
    expect(q.format).toEqual({ kind: 'plain', bits: 4, group: 64, symmetric: false });
    expect(q.rank).toBe(8);
    expect(q.sparsity).toEqual({ method: 'wanda', ratio: 0.5 });
    // Dropped parts are listed as dropped; the MLP of block 2 is not.
    expect(r.plan.tensors.find((t) => t.name === 'blk.2.attn_v')!.dropped).toBe(true);
    expect(r.plan.tensors.find((t) => t.name === 'blk.2.ffn_up')).toBeUndefined();
    expect(r.plan.tensors.filter((t) => t.name.startsWith('blk.4.')).length).toBe(7);
  });

  it('names an unknown layer index with the allowed range', () => {
    const e = errorsOf({ ...base, layers: { 7: { format: 'Q4_0' } } });
    expect(e).toEqual([{ path: 'layers.7', code: 'unknown-layer', message: 'layer key "7" is not a block of this model', allowed: '0..4' }]);
    expect(errorsOf({ ...base, layers: { '01': {} } })[0].path).toBe('layers.01');
    expect(errorsOf({ ...base, tensors: { 'blk.5.attn_q': { format: 'Q8_0' } } })[0]).toMatchObject({ path: 'tensors.blk.5.attn_q', code: 'unknown-layer', allowed: 'blocks 0..4' });
  });

  it('names a bad format and lists the allowed ones', () => {
    const [e] = errorsOf({ ...base, layers: { 1: { format: 'Q4_2' } } });
    expect(e.path).toBe('layers.1.format');
    expect(e.code).toBe('bad-format');
    expect(e.allowed).toContain('Q4_K');
    expect(e.allowed).toContain('int<N>-g<G>-<sym|asym>');
    for (const bad of ['int9-g32-sym', 'int1-g32-sym', 'int4-g48-sym', 'int4-g32', 'IQ4_NL']) {
      expect(errorsOf({ ...base, tensors: { 'blk.0.ffn_up': { format: bad } } })[0].code, bad).toBe('bad-format');
    }
  });

  it('checks tensor names, ranks, sparsity, kv bits, drops and the model', () => {
    expect(errorsOf({ ...base, tensors: { 'blk.0.attn_qkv': {} } })[0]).toMatchObject({ path: 'tensors.blk.0.attn_qkv', code: 'unknown-tensor' });
    expect(errorsOf({ ...base, tensors: { 'blk.0.attn_norm': { format: 'Q8_0' } } })[0].code).toBe('unknown-tensor');
    // attn_k is [32, 64]: rank at most 32.
    expect(errorsOf({ ...base, tensors: { 'blk.0.attn_k': { rank: 33 } } })[0]).toMatchObject({ path: 'tensors.blk.0.attn_k.rank', code: 'bad-rank', allowed: 'an integer 1..32 (min of 32x64)' });
    expect(validateAllocation({ ...base, tensors: { 'blk.0.attn_k': { rank: 32 } } }, spec).ok).toBe(true);
    expect(errorsOf({ ...base, tensors: { 'blk.0.attn_k': { sparsity: { method: '2:4', ratio: 0.3 } } } })[0]).toMatchObject({ path: 'tensors.blk.0.attn_k.sparsity.ratio', code: 'bad-sparsity' });
    expect(errorsOf({ ...base, tensors: { 'blk.0.attn_k': { sparsity: { method: 'wanda', ratio: 1 } } } })[0]).toMatchObject({ code: 'bad-sparsity', allowed: 'a number in [0, 1)' });
    expect(errorsOf({ ...base, tensors: { 'blk.0.attn_k': { sparsity: { method: 'random', ratio: 0.5 } } } })[0]).toMatchObject({ path: 'tensors.blk.0.attn_k.sparsity.method', allowed: 'magnitude, wanda, 2:4' });
    expect(errorsOf({ ...base, layers: { 0: { kvBits: { k: 7, v: 4 } } } })[0]).toMatchObject({ path: 'layers.0.kvBits.k', code: 'bad-kv-bits', allowed: '2, 3, 4, 5, 6, 8, 16' });
    expect(errorsOf({ ...base, layers: { 0: { drop: 'attn', kvBits: { k: 4, v: 4 } } } })[0]).toMatchObject({ path: 'layers.0.kvBits', code: 'conflict' });
    expect(errorsOf({ ...base, layers: { 0: { drop: 'ffn' } } })[0]).toMatchObject({ path: 'layers.0.drop', code: 'bad-drop', allowed: 'block, attn, mlp' });
    expect(errorsOf({ ...base, layers: { 0: { bits: 4 } } })[0]).toMatchObject({ path: 'layers.0.bits', code: 'unknown-field' });
    expect(errorsOf({ ...base, model: { name: 'x', arch: 'llama', nLayers: 6 } })[0]).toMatchObject({ path: 'model.nLayers', code: 'model-mismatch', allowed: '5' });
    expect(errorsOf({ ...base, model: { name: 'x', arch: 'gpt2', nLayers: 5 } })[0]).toMatchObject({ path: 'model.arch', code: 'model-mismatch' });
    expect(errorsOf({ ...base, schema: 'layerlab.allocation/2' })[0]).toMatchObject({ path: 'schema', code: 'schema' });
    expect(errorsOf([])[0].code).toBe('not-object');
  });

  it('collects every error, not only the first', () => {
    const e = errorsOf({ ...base, layers: { 9: {}, 1: { format: 'Q9' } }, tensors: { 'blk.0.attn_q': { rank: 0 } } });
    expect(e.map((x) => x.path).sort()).toEqual(['layers.1.format', 'layers.9', 'tensors.blk.0.attn_q.rank']);
  });

  it('without a spec checks layer keys against model.nLayers and returns no plan', () => {
    const r = validateAllocation({ ...base, layers: { 4: { format: 'Q4_0' } } });
    expect(r.ok && r.plan === null).toBe(true);
    const bad = validateAllocation({ ...base, layers: { 5: { format: 'Q4_0' } } });
    expect(bad.ok ? [] : bad.errors.map((x) => x.allowed)).toEqual(['0..4']);
  });
});

describe('formats', () => {
  it('parses names and computes bits per weight by hand', () => {
    // GGUF: typeSize * 8 / blockSize (Q4_0 18 B / 32, Q4_K 144 B / 256, Q6_K 210 B / 256, Q2_K 84 B / 256).
    const bpw = (s: string): number => formatBitsPerWeight(parseWeightFormat(s)!);
    expect(bpw('Q8_0')).toBe(8.5);
    expect(bpw('q4_0')).toBe(4.5);
    expect(bpw('Q4_K')).toBe(4.5);
    expect(bpw('Q6_K')).toBe(6.5625);
    expect(bpw('Q2_K')).toBe(2.625);
    expect(bpw('F16')).toBe(16);
    // plain: N + 16 / G (symmetric, one f16 scale), N + 32 / G (asymmetric, scale and zero).
    expect(bpw('int4-g32-sym')).toBe(4.5);
    expect(bpw('int3-g128-asym')).toBe(3.25);
    expect(bpw('int8-g64-asym')).toBe(8.5);
  });

  it('falls back like llama-quantize (hand table)', () => {
    expect(resolveGgufFormat('Q4_K', 256)).toEqual({ name: 'Q4_K' });
    expect(resolveGgufFormat('Q4_K', 64).name).toBe('Q5_0');
    expect(resolveGgufFormat('Q6_K', 64).name).toBe('Q8_0');
    expect(resolveGgufFormat('Q2_K', 64).name).toBe('Q4_0');
    expect(resolveGgufFormat('Q3_K', 96).name).toBe('Q4_0');
    expect(resolveGgufFormat('Q4_K', 172).name).toBe('F16');
    expect(resolveGgufFormat('Q8_0', 172).name).toBe('F16');
    expect(resolveGgufFormat('Q8_0', 172).reason).toBe('row length 172 is not a multiple of the Q8_0 block size 32; F16 (llama-quantize\'s last resort)');
    expect(resolveGgufFormat('F32', 7)).toEqual({ name: 'F32' });
  });

  it('records the fallback of stories260K ffn_down (172-value rows) in the plan', () => {
    const r = validateAllocation({ ...base, layers: { 0: { format: 'Q8_0' }, 1: { format: 'Q4_K' } } }, spec);
    expect(r.ok).toBe(true);
    if (!r.ok || !r.plan) return;
    const byName = new Map(r.plan.tensors.map((t) => [t.name, t]));
    const down0 = byName.get('blk.0.ffn_down')!;
    expect(down0.shape).toEqual([64, 172]);
    expect(down0.requested).toBe('Q8_0');
    expect(down0.format).toMatchObject({ kind: 'gguf', name: 'F16' });
    expect(down0.fallback?.reason).toContain('row length 172');
    // ffn_up is [172, 64]: rows of 64 fit Q8_0; Q4_K (256) does not, Q5_0 does.
    expect(byName.get('blk.0.ffn_up')!.format).toMatchObject({ name: 'Q8_0' });
    expect(byName.get('blk.0.ffn_up')!.fallback).toBeUndefined();
    expect(byName.get('blk.1.ffn_up')!.format).toMatchObject({ name: 'Q5_0' });
    expect(byName.get('blk.1.ffn_down')!.format).toMatchObject({ name: 'F16' });
    expect(byName.get('blk.1.ffn_down')!.fallback?.reason).toBe('row length 172 is not a multiple of the Q4_K block size 256, nor of the Q5_0 block size 32; F16 (llama-quantize\'s last resort)');
    expect(r.plan.fallbacks.map((f) => `${f.name}:${f.from}->${f.to}`)).toEqual([
      'blk.0.ffn_down:Q8_0->F16',
      'blk.1.attn_q:Q4_K->Q5_0', 'blk.1.attn_k:Q4_K->Q5_0', 'blk.1.attn_v:Q4_K->Q5_0', 'blk.1.attn_output:Q4_K->Q5_0',
      'blk.1.ffn_gate:Q4_K->Q5_0', 'blk.1.ffn_up:Q4_K->Q5_0', 'blk.1.ffn_down:Q4_K->F16',
    ]);
  });
});
