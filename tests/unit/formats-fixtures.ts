// Test-only helpers for the format tests, written from the format specs independently of the loaders:
// a GGUF writer, a safetensors writer, block dequantizers for the legacy GGUF types (ggml's block
// layouts), byte search and patch helpers, and a stub tokenizer for the override path.
import { expect } from 'vitest';
import { LoadError } from '../../src/core/formats/errors.ts';
import type { Tokenizer } from '../../src/core/formats/tokenizer.ts';
import { f16ToF32 } from '../../src/core/tensor.ts';

// ---------------------------------------------------------------------------------------------
// GGUF writer (spec: ggml docs/gguf.md).

export const T = { U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7, STR: 8, ARR: 9, U64: 10, I64: 11, F64: 12 } as const;

export interface GgufKv {
  key: string;
  type: number;
  value: unknown;
  /** Element type for arrays; for arrays of arrays, the nested element types in order. */
  elem?: number[];
}

export interface GgufTensorSpec {
  name: string;
  ne: number[];
  type: number;
  data: Uint8Array;
}

class Bytes {
  private parts: number[] = [];
  get length(): number {
    return this.parts.length;
  }
  u8(v: number): void {
    this.parts.push(v & 0xff);
  }
  raw(b: ArrayLike<number>): void {
    for (let i = 0; i < b.length; i++) this.parts.push(b[i]);
  }
  num(v: number | bigint, type: number): void {
    const dv = new DataView(new ArrayBuffer(8));
    let n = 0;
    switch (type) {
      case T.U8: dv.setUint8(0, Number(v)); n = 1; break;
      case T.I8: dv.setInt8(0, Number(v)); n = 1; break;
      case T.U16: dv.setUint16(0, Number(v), true); n = 2; break;
      case T.I16: dv.setInt16(0, Number(v), true); n = 2; break;
      case T.U32: dv.setUint32(0, Number(v), true); n = 4; break;
      case T.I32: dv.setInt32(0, Number(v), true); n = 4; break;
      case T.F32: dv.setFloat32(0, Number(v), true); n = 4; break;
      case T.U64: dv.setBigUint64(0, BigInt(v), true); n = 8; break;
      case T.I64: dv.setBigInt64(0, BigInt(v), true); n = 8; break;
      case T.F64: dv.setFloat64(0, Number(v), true); n = 8; break;
      default: throw new Error(`num: type ${type}`);
    }
    this.raw(new Uint8Array(dv.buffer, 0, n));
  }
  str(s: string): void {
    const b = new TextEncoder().encode(s);
    this.num(b.length, T.U64);
    this.raw(b);
  }
  value(type: number, v: unknown, elem: number[] = []): void {
    if (type === T.STR) this.str(v as string);
    else if (type === T.BOOL) this.u8(v ? 1 : 0);
    else if (type === T.ARR) {
      const [et, ...rest] = elem;
      const arr = v as unknown[];
      this.num(et, T.U32);
      this.num(arr.length, T.U64);
      for (const x of arr) this.value(et, x, rest);
    } else this.num(v as number, type);
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

export function writeGguf(o: { version?: number; kv: GgufKv[]; tensors: GgufTensorSpec[]; alignment?: number }): Uint8Array {
  const align = o.alignment ?? 32;
  const b = new Bytes();
  b.raw([0x47, 0x47, 0x55, 0x46]);
  b.num(o.version ?? 3, T.U32);
  b.num(o.tensors.length, T.U64);
  b.num(o.kv.length, T.U64);
  for (const kv of o.kv) {
    b.str(kv.key);
    b.num(kv.type, T.U32);
    b.value(kv.type, kv.value, kv.elem);
  }
  let off = 0;
  const offsets: number[] = [];
  for (const t of o.tensors) {
    offsets.push(off);
    off += Math.ceil(t.data.length / align) * align;
  }
  o.tensors.forEach((t, i) => {
    b.str(t.name);
    b.num(t.ne.length, T.U32);
    for (const d of t.ne) b.num(d, T.U64);
    b.num(t.type, T.U32);
    b.num(offsets[i], T.U64);
  });
  while (b.length % align !== 0) b.u8(0);
  const dataStart = b.length;
  const out = new Uint8Array(dataStart + off);
  out.set(b.bytes());
  o.tensors.forEach((t, i) => out.set(t.data, dataStart + offsets[i]));
  return out;
}

export function f32Bytes(values: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

/** Deterministic F32 values 0.001 * (seed + i) as bytes. */
export function ramp(n: number, seed: number): Uint8Array {
  return f32Bytes(Array.from({ length: n }, (_, i) => 0.001 * (seed + i)));
}

// ---------------------------------------------------------------------------------------------
// A tiny Qwen2-style GGUF: llama graph + QKV biases, NEOX ('half') RoPE, tied output.
export function tinyQwen2(o: { withOutput?: boolean; omit?: string; version?: number; vocab?: number; eosId?: number } = {}): Uint8Array {
  const C = 8, H = 2, KV = 1, hd = 4, F = 12, V = o.vocab ?? 10;
  const t: GgufTensorSpec[] = [];
  let seed = 0;
  const add = (name: string, ne: number[]): void => {
    if (name === o.omit) return;
    t.push({ name, ne, type: 0, data: ramp(ne.reduce((a, b) => a * b, 1), (seed += 100)) });
  };
  add('token_embd.weight', [C, V]);
  add('output_norm.weight', [C]);
  if (o.withOutput) add('output.weight', [C, V]);
  add('blk.0.attn_norm.weight', [C]);
  add('blk.0.attn_q.weight', [C, H * hd]);
  add('blk.0.attn_q.bias', [H * hd]);
  add('blk.0.attn_k.weight', [C, KV * hd]);
  add('blk.0.attn_k.bias', [KV * hd]);
  add('blk.0.attn_v.weight', [C, KV * hd]);
  add('blk.0.attn_v.bias', [KV * hd]);
  add('blk.0.attn_output.weight', [H * hd, C]);
  add('blk.0.ffn_norm.weight', [C]);
  add('blk.0.ffn_gate.weight', [C, F]);
  add('blk.0.ffn_up.weight', [C, F]);
  add('blk.0.ffn_down.weight', [F, C]);
  return writeGguf({
    version: o.version ?? 3,
    kv: [
      { key: 'general.architecture', type: T.STR, value: 'qwen2' },
      { key: 'general.name', type: T.STR, value: 'tiny-qwen' },
      { key: 'qwen2.block_count', type: T.U32, value: 1 },
      { key: 'qwen2.context_length', type: T.U32, value: 32 },
      { key: 'qwen2.embedding_length', type: T.U32, value: C },
      { key: 'qwen2.feed_forward_length', type: T.U32, value: F },
      { key: 'qwen2.attention.head_count', type: T.U32, value: H },
      { key: 'qwen2.attention.head_count_kv', type: T.U32, value: KV },
      { key: 'qwen2.rope.freq_base', type: T.F32, value: 1000000 },
      { key: 'qwen2.attention.layer_norm_rms_epsilon', type: T.F32, value: 1e-6 },
      { key: 'tokenizer.ggml.add_bos_token', type: T.BOOL, value: false },
      { key: 'tokenizer.ggml.eos_token_id', type: T.U32, value: o.eosId ?? 7 },
    ],
    tensors: t,
  });
}

// ---------------------------------------------------------------------------------------------
// safetensors writer (spec: huggingface/safetensors README).

export function writeSafetensors(tensors: { name: string; dtype: string; shape: number[]; data: Uint8Array }[], meta?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (meta) header.__metadata__ = meta;
  let off = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.data.length] };
    off += t.data.length;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += ' ';
  const hb = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hb.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  let p = 8 + hb.length;
  for (const t of tensors) {
    out.set(t.data, p);
    p += t.data.length;
  }
  return out;
}

/** Splits a safetensors file into its parsed JSON header and its data section (for rewriting). */
export function splitSafetensors(bytes: Uint8Array): { header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>; data: Uint8Array } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  delete header.__metadata__;
  return { header, data: bytes.subarray(8 + n) };
}

// ---------------------------------------------------------------------------------------------
// Legacy GGUF block dequantizers (ggml-common.h block layouts), for cross-checking quantized files.

/** Dequantizes `nBlocks` blocks of 32 values; returns values and each block's |scale| d. */
export function dequantLegacy(type: string, data: Uint8Array, nBlocks: number): { x: Float32Array; d: Float32Array } {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const x = new Float32Array(nBlocks * 32);
  const dd = new Float32Array(nBlocks);
  const size = { Q8_0: 34, Q4_0: 18, Q4_1: 20, Q5_0: 22, Q5_1: 24 }[type];
  if (!size) throw new Error(type);
  for (let b = 0; b < nBlocks; b++) {
    const p = b * size;
    const d = f16ToF32(dv.getUint16(p, true));
    dd[b] = Math.abs(d);
    const o = b * 32;
    if (type === 'Q8_0') {
      for (let j = 0; j < 32; j++) x[o + j] = d * dv.getInt8(p + 2 + j);
    } else if (type === 'Q4_0') {
      for (let j = 0; j < 16; j++) {
        const q = data[p + 2 + j];
        x[o + j] = d * ((q & 0xf) - 8);
        x[o + j + 16] = d * ((q >> 4) - 8);
      }
    } else if (type === 'Q4_1') {
      const m = f16ToF32(dv.getUint16(p + 2, true));
      for (let j = 0; j < 16; j++) {
        const q = data[p + 4 + j];
        x[o + j] = d * (q & 0xf) + m;
        x[o + j + 16] = d * (q >> 4) + m;
      }
    } else {
      const hasMin = type === 'Q5_1';
      const m = hasMin ? f16ToF32(dv.getUint16(p + 2, true)) : 0;
      const qhAt = p + (hasMin ? 4 : 2);
      const qh = dv.getUint32(qhAt, true);
      for (let j = 0; j < 16; j++) {
        const q = data[qhAt + 4 + j];
        const h0 = ((qh >>> j) & 1) << 4;
        const h1 = ((qh >>> (j + 16)) & 1) << 4;
        // (no "+ 0" for Q5_0: it would turn ggml's -0 into +0)
        x[o + j] = hasMin ? d * ((q & 0xf) | h0) + m : d * (((q & 0xf) | h0) - 16);
        x[o + j + 16] = hasMin ? d * ((q >> 4) | h1) + m : d * (((q >> 4) | h1) - 16);
      }
    }
  }
  return { x, d: dd };
}

// ---------------------------------------------------------------------------------------------
// Byte helpers.

export function indexOfBytes(hay: Uint8Array, needle: Uint8Array | string, from = 0): number {
  const n = typeof needle === 'string' ? new TextEncoder().encode(needle) : needle;
  outer: for (let i = from; i + n.length <= hay.length; i++) {
    for (let j = 0; j < n.length; j++) if (hay[i + j] !== n[j]) continue outer;
    return i;
  }
  return -1;
}

/** Position of a GGUF string (u64 length + bytes) in the file: the position of its length field. */
export function findGgufString(bytes: Uint8Array, s: string, from = 0): number {
  const b = new TextEncoder().encode(s);
  const needle = new Uint8Array(8 + b.length);
  new DataView(needle.buffer).setBigUint64(0, BigInt(b.length), true);
  needle.set(b, 8);
  const i = indexOfBytes(bytes, needle, from);
  if (i < 0) throw new Error(`string ${s} not found`);
  return i;
}

/** A patched copy of `bytes`. */
export function patched(bytes: Uint8Array, patch: (dv: DataView, b: Uint8Array) => void): Uint8Array {
  const c = bytes.slice();
  patch(new DataView(c.buffer), c);
  return c;
}

export function f32View(data: Uint8Array): Float32Array {
  const c = data.slice();
  return new Float32Array(c.buffer, 0, c.length / 4);
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Error expectations.

/** Runs `fn`, requires a LoadError with `code` (if given) whose message matches every pattern; returns it. */
export function expectLoadError(fn: () => unknown, code?: string, ...patterns: (string | RegExp)[]): LoadError {
  let err: unknown = null;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a LoadError to be thrown').not.toBeNull();
  if (!(err instanceof LoadError)) throw new Error(`expected a LoadError, got ${String(err)}${err instanceof Error ? `\n${err.stack}` : ''}`);
  if (code) expect(err.code, `code of: ${err.message}`).toBe(code);
  for (const p of patterns) {
    if (typeof p === 'string') expect(err.message).toContain(p);
    else expect(err.message).toMatch(p);
  }
  expect(err.hint.length).toBeGreaterThan(10);
  return err;
}

/** A tokenizer stub for the override path (never used to encode real text in these tests). */
export function stubTokenizer(vocabSize: number): Tokenizer {
  return {
    kind: 'byte-level-bpe',
    vocabSize,
    bosId: null,
    eosId: null,
    addBosDefault: false,
    encode: (text: string) => Array.from(new TextEncoder().encode(text), (b) => b % vocabSize),
    decode: (ids: number[]) => ids.join(' '),
    piece: (id: number) => String(id),
  };
}
