// GGUF v3 writer, and the GGUF of a model modified by an allocation (src/core/allocation).
// Layout (ggml docs/gguf.md, little-endian): "GGUF", u32 version 3, u64 tensor count, u64 metadata count;
// metadata pairs (string key, u32 value type, value; strings are u64 length + UTF-8 bytes, arrays are
// u32 element type + u64 count + elements, nested arrays allowed); tensor infos (string name, u32 n_dims,
// u64 ne[n_dims] with ne[0] the row length, u32 ggml type, u64 offset relative to the data section, each a
// multiple of general.alignment); zero padding to the alignment; the data section, each tensor padded with
// zeros to the alignment. Default alignment 32; a `general.alignment` u32 key sets another.
//
// modifiedModelGguf: the source GGUF's metadata (in order, with the types it was stored with) and tensor
// order, with each tensor's bytes and type taken from the modified LoadedModel (packed block formats as
// they are), and the structural drops written in a form llama.cpp loads:
//   skip-block l: every blk.l.* tensor is removed, later blocks are renumbered (blk.m -> blk.(m - #dropped
//                 blocks below m)) and `{arch}.block_count` is set to the kept count (llama-quantize's
//                 --prune-layers does the same);
//   skip-attn l:  blk.l.attn_output (and its bias) written as zeros: the sublayer adds exactly 0 to the
//                 residual, as the skip-attn intervention does (all-zero bytes decode to 0 in every type);
//   skip-mlp l:   blk.l.ffn_down (and its bias) written as zeros, likewise.
// Sources that are not GGUF are refused: their tokenizer and the GGUF tensor conventions (e.g. llama.cpp's
// Q/K row permutation) cannot be reproduced faithfully here.

import type { Intervention } from '../model/taps.ts';
import { GgufValueType, ggmlTypeInfo, type GgufFile, type GgufMetaType } from './gguf.ts';
import type { LoadedModel } from './types.ts';

export interface GgufMetaEntry {
  key: string;
  value: unknown;
  type: GgufMetaType;
}

export interface GgufTensorOut {
  /** Stored name, e.g. "blk.0.attn_q.weight". */
  name: string;
  /** ggml dims, ne[0] = row length. */
  ne: number[];
  type: number;
  data: Uint8Array;
}

const SCALAR: Partial<Record<number, number>> = {
  [GgufValueType.UINT8]: 1, [GgufValueType.INT8]: 1, [GgufValueType.UINT16]: 2, [GgufValueType.INT16]: 2,
  [GgufValueType.UINT32]: 4, [GgufValueType.INT32]: 4, [GgufValueType.FLOAT32]: 4, [GgufValueType.BOOL]: 1,
  [GgufValueType.UINT64]: 8, [GgufValueType.INT64]: 8, [GgufValueType.FLOAT64]: 8,
};

/** A growing little-endian byte buffer. */
class Out {
  buf = new Uint8Array(1 << 16);
  view = new DataView(this.buf.buffer);
  pos = 0;
  private enc = new TextEncoder();
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.pos));
    this.buf = b;
    this.view = new DataView(b.buffer);
  }
  u8(v: number): void { this.reserve(1); this.view.setUint8(this.pos, v); this.pos += 1; }
  u32(v: number): void { this.reserve(4); this.view.setUint32(this.pos, v, true); this.pos += 4; }
  u64(v: number | bigint): void { this.reserve(8); this.view.setBigUint64(this.pos, BigInt(v), true); this.pos += 8; }
  bytes(b: Uint8Array): void { this.reserve(b.length); this.buf.set(b, this.pos); this.pos += b.length; }
  str(s: string): void { const b = this.enc.encode(s); this.u64(b.length); this.bytes(b); }
  pad(alignment: number): void { const n = (alignment - (this.pos % alignment)) % alignment; this.reserve(n); this.buf.fill(0, this.pos, this.pos + n); this.pos += n; }
  result(): Uint8Array { return this.buf.slice(0, this.pos); }
}

/** Element type of a nested array level (the reader keeps only the outer one): from the values. */
function inferType(v: unknown, key: string): number {
  if (typeof v === 'string') return GgufValueType.STRING;
  if (typeof v === 'boolean') return GgufValueType.BOOL;
  if (typeof v === 'bigint') return v < 0n ? GgufValueType.INT64 : GgufValueType.UINT64;
  if (Array.isArray(v)) return GgufValueType.ARRAY;
  if (typeof v === 'number') return Number.isInteger(v) ? (v >= -(2 ** 31) && v < 2 ** 31 ? GgufValueType.INT32 : GgufValueType.INT64) : GgufValueType.FLOAT32;
  throw new Error(`GGUF write: metadata "${key}" holds a ${typeof v}, which GGUF cannot store`);
}

function writeValue(o: Out, type: number, v: unknown, key: string, elemType?: number): void {
  const need = (ok: boolean, what: string): void => {
    if (!ok) throw new Error(`GGUF write: metadata "${key}" = ${String(v)} is not ${what}`);
  };
  const int = (lo: number, hi: number): number => {
    need(typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi, `an integer in ${lo}..${hi}`);
    return v as number;
  };
  o.reserve(8);
  switch (type) {
    case GgufValueType.UINT8: o.view.setUint8(o.pos, int(0, 255)); o.pos += 1; return;
    case GgufValueType.INT8: o.view.setInt8(o.pos, int(-128, 127)); o.pos += 1; return;
    case GgufValueType.UINT16: o.view.setUint16(o.pos, int(0, 65535), true); o.pos += 2; return;
    case GgufValueType.INT16: o.view.setInt16(o.pos, int(-32768, 32767), true); o.pos += 2; return;
    case GgufValueType.UINT32: o.view.setUint32(o.pos, int(0, 2 ** 32 - 1), true); o.pos += 4; return;
    case GgufValueType.INT32: o.view.setInt32(o.pos, int(-(2 ** 31), 2 ** 31 - 1), true); o.pos += 4; return;
    case GgufValueType.FLOAT32: need(typeof v === 'number', 'a number'); o.view.setFloat32(o.pos, v as number, true); o.pos += 4; return;
    case GgufValueType.FLOAT64: need(typeof v === 'number', 'a number'); o.view.setFloat64(o.pos, v as number, true); o.pos += 8; return;
    case GgufValueType.BOOL: need(typeof v === 'boolean', 'a boolean'); o.view.setUint8(o.pos, v ? 1 : 0); o.pos += 1; return;
    case GgufValueType.UINT64:
    case GgufValueType.INT64: {
      need((typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint', 'an integer');
      const b = BigInt(v as number | bigint);
      if (type === GgufValueType.UINT64) { need(b >= 0n, 'unsigned'); o.view.setBigUint64(o.pos, b, true); } else o.view.setBigInt64(o.pos, b, true);
      o.pos += 8;
      return;
    }
    case GgufValueType.STRING: need(typeof v === 'string', 'a string'); o.str(v as string); return;
    case GgufValueType.ARRAY: {
      need(Array.isArray(v), 'an array');
      const arr = v as unknown[];
      const et = elemType ?? (arr.length ? inferType(arr[0], key) : GgufValueType.UINT8);
      if (et !== GgufValueType.STRING && et !== GgufValueType.ARRAY && SCALAR[et] === undefined) throw new Error(`GGUF write: metadata "${key}" has unknown element type ${et}`);
      o.u32(et);
      o.u64(arr.length);
      for (const x of arr) writeValue(o, et, x, key);
      return;
    }
    default:
      throw new Error(`GGUF write: metadata "${key}" has unknown value type ${type}`);
  }
}

/** Bytes a tensor of `type` with dims `ne` must hold. */
export function ggufTensorBytes(type: number, ne: readonly number[]): number {
  const info = ggmlTypeInfo(type);
  if (!info) throw new Error(`GGUF write: unknown ggml type ${type}`);
  if (ne[0] % info.blockSize !== 0) throw new Error(`GGUF write: rows of ${ne[0]} values do not fit ${info.name} blocks of ${info.blockSize}`);
  return (ne[0] / info.blockSize) * info.typeSize * ne.slice(1).reduce((a, b) => a * b, 1);
}

/** Serializes a GGUF v3 file. `general.alignment` in the metadata (u32) sets the alignment (default 32). */
export function writeGguf(metadata: readonly GgufMetaEntry[], tensors: readonly GgufTensorOut[]): Uint8Array {
  const al = metadata.find((m) => m.key === 'general.alignment')?.value;
  const alignment = al === undefined ? 32 : Number(al);
  if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) throw new Error(`GGUF write: general.alignment ${String(al)} is not a power of two`);
  const keys = new Set<string>();
  const names = new Set<string>();
  const o = new Out();
  o.bytes(new Uint8Array([0x47, 0x47, 0x55, 0x46])); // "GGUF"
  o.u32(3);
  o.u64(tensors.length);
  o.u64(metadata.length);
  for (const m of metadata) {
    if (keys.has(m.key)) throw new Error(`GGUF write: metadata key "${m.key}" given twice`);
    keys.add(m.key);
    o.str(m.key);
    o.u32(m.type.type);
    writeValue(o, m.type.type, m.value, m.key, m.type.arrayType);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    if (names.has(t.name)) throw new Error(`GGUF write: tensor "${t.name}" given twice`);
    names.add(t.name);
    const want = ggufTensorBytes(t.type, t.ne);
    if (t.data.byteLength !== want) throw new Error(`GGUF write: tensor "${t.name}" has ${t.data.byteLength} bytes, its type and dims need ${want}`);
    o.str(t.name);
    o.u32(t.ne.length);
    for (const d of t.ne) o.u64(d);
    o.u32(t.type);
    o.u64(offset);
    offsets.push(offset);
    offset += Math.ceil(want / alignment) * alignment;
  }
  o.pad(alignment);
  for (const t of tensors) {
    o.bytes(t.data);
    o.pad(alignment);
  }
  return o.result();
}

export interface ModifiedGguf {
  bytes: Uint8Array;
  blockCount: number;
  /** Old block index -> new index (null: removed). */
  renumber: (number | null)[];
  tensorCount: number;
  /** What was changed beyond the tensors' types, in words. */
  notes: string[];
}

/**
 * The GGUF of a modified model: `source` (the parsed GGUF the model was loaded from, and its bytes) gives
 * metadata and tensor order; `model` (applyAllocation's result) gives every tensor's type and bytes;
 * `interventions` are the allocation's drops (see the file comment).
 */
export function modifiedModelGguf(source: { file: GgufFile; bytes: Uint8Array } | null, model: LoadedModel, interventions: readonly Intervention[] = []): ModifiedGguf {
  if (!source || model.format !== 'gguf') {
    throw new Error(
      `export to GGUF needs a GGUF source model (this one is ${model.format}): its metadata and tokenizer are carried over as they are, ` +
      'and a tokenizer or tensor layout from another format cannot be written faithfully here. Convert the model to GGUF with llama.cpp ' +
      '(convert_hf_to_gguf.py) and run the allocation on that file.',
    );
  }
  const { file } = source;
  const arch = file.metadata.get('general.architecture');
  const L = model.spec.nLayers;
  const skipBlock = new Set<number>();
  const zeroNames = new Set<string>();
  const notes: string[] = [];
  for (const iv of interventions) {
    if (iv.kind === 'skip-block') skipBlock.add(iv.layer);
    else if (iv.kind === 'skip-attn') { zeroNames.add(`blk.${iv.layer}.attn_output`); zeroNames.add(`blk.${iv.layer}.attn_output.bias`); }
    else if (iv.kind === 'skip-mlp') { zeroNames.add(`blk.${iv.layer}.ffn_down`); zeroNames.add(`blk.${iv.layer}.ffn_down.bias`); }
    else throw new Error(`export to GGUF: intervention ${iv.kind} has no GGUF form`);
  }
  for (const iv of interventions) {
    if (iv.kind === 'skip-attn') notes.push(`block ${iv.layer}: attention dropped (attn_output written as zeros)`);
    if (iv.kind === 'skip-mlp') notes.push(`block ${iv.layer}: MLP dropped (ffn_down written as zeros)`);
  }
  const renumber: (number | null)[] = [];
  let kept = 0;
  for (let l = 0; l < L; l++) renumber.push(skipBlock.has(l) ? null : kept++);
  if (kept === 0) throw new Error('export to GGUF: every block is dropped');
  if (skipBlock.size) notes.push(`blocks ${[...skipBlock].sort((a, b) => a - b).join(', ')} removed; ${kept} blocks renumbered 0..${kept - 1}`);

  const blockKey = `${String(arch)}.block_count`;
  const metadata: GgufMetaEntry[] = [];
  for (const [key, value] of file.metadata) {
    const type = file.metadataTypes.get(key)!;
    metadata.push({ key, value: key === blockKey ? kept : value, type });
  }
  if (!file.metadata.has(blockKey)) throw new Error(`export to GGUF: the source has no ${blockKey}`);

  const tensors: GgufTensorOut[] = [];
  for (const t of file.tensors) {
    const canon = t.name.endsWith('.weight') ? t.name.slice(0, -'.weight'.length) : t.name;
    const m = /^blk\.(\d+)\.(.*)$/.exec(t.name);
    let name = t.name;
    if (m) {
      const nb = renumber[Number(m[1])];
      if (nb === null) continue;
      if (nb === undefined) throw new Error(`export to GGUF: tensor ${t.name} names a block past block_count ${L}`);
      name = `blk.${nb}.${m[2]}`;
    }
    const mt = model.tensors.get(canon);
    let type = t.type;
    let data: Uint8Array;
    if (mt) {
      type = mt.type;
      data = mt.data;
      // The modified tensor keeps its shape; ggml dims are the reverse of the row-major shape (plus the
      // source's trailing 1s).
      const ne = t.ne.slice();
      const shapeNe = mt.shape.slice().reverse();
      if (shapeNe.some((d, i) => d !== ne[i]) || ne.slice(shapeNe.length).some((d) => d !== 1)) {
        throw new Error(`export to GGUF: ${canon} has shape [${mt.shape.join(', ')}], the source tensor ne [${ne.join(', ')}]`);
      }
    } else data = source.bytes.subarray(t.absOffset, t.absOffset + t.nbytes);
    if (zeroNames.has(canon)) data = new Uint8Array(data.byteLength);
    tensors.push({ name, ne: t.ne.slice(), type, data });
  }
  return { bytes: writeGguf(metadata, tensors), blockCount: kept, renumber, tensorCount: tensors.length, notes };
}
