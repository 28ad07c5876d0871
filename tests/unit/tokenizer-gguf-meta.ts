// Test-only GGUF metadata reader for the tokenizer tests (GGUF v2/v3 key-value section, little-endian),
// written independently of src/core/formats/gguf.ts so that the tokenizer tests do not depend on it.
// Layout: "GGUF", u32 version, u64 tensor count, u64 kv count, then per kv: string key, u32 type, value;
// string = u64 length + UTF-8 bytes; array = u32 element type, u64 count, elements.

export type MetaValue = number | bigint | boolean | string | MetaValue[];

export function readGgufMetadata(bytes: Uint8Array): Map<string, MetaValue> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dec = new TextDecoder('utf-8');
  let o = 0;
  const u32 = (): number => {
    const v = dv.getUint32(o, true);
    o += 4;
    return v;
  };
  const u64 = (): number => {
    const v = dv.getBigUint64(o, true);
    o += 8;
    return Number(v);
  };
  const str = (): string => {
    const n = u64();
    const s = dec.decode(bytes.subarray(o, o + n));
    o += n;
    return s;
  };
  const value = (type: number): MetaValue => {
    let v: MetaValue;
    switch (type) {
      case 0: v = dv.getUint8(o); o += 1; return v;
      case 1: v = dv.getInt8(o); o += 1; return v;
      case 2: v = dv.getUint16(o, true); o += 2; return v;
      case 3: v = dv.getInt16(o, true); o += 2; return v;
      case 4: v = dv.getUint32(o, true); o += 4; return v;
      case 5: v = dv.getInt32(o, true); o += 4; return v;
      case 6: v = dv.getFloat32(o, true); o += 4; return v;
      case 7: v = dv.getUint8(o) !== 0; o += 1; return v;
      case 8: return str();
      case 9: {
        const et = u32();
        const n = u64();
        const arr: MetaValue[] = new Array(n);
        for (let i = 0; i < n; i++) arr[i] = value(et);
        return arr;
      }
      case 10: v = dv.getBigUint64(o, true); o += 8; return v;
      case 11: v = dv.getBigInt64(o, true); o += 8; return v;
      case 12: v = dv.getFloat64(o, true); o += 8; return v;
      default: throw new Error(`GGUF metadata type ${type} unknown`);
    }
  };
  if (dec.decode(bytes.subarray(0, 4)) !== 'GGUF') throw new Error('not a GGUF file');
  o = 4;
  const version = u32();
  if (version < 2) throw new Error(`GGUF v${version} not supported by this test reader`);
  u64(); // tensor count
  const nkv = u64();
  const md = new Map<string, MetaValue>();
  for (let i = 0; i < nkv; i++) {
    const key = str();
    md.set(key, value(u32()));
  }
  return md;
}

/** The tokenizer.ggml.* fields the tokenizer constructors take. */
export function ggufTokenizerFields(md: Map<string, MetaValue>) {
  const num = (k: string): number | null => {
    const v = md.get(k);
    return typeof v === 'number' && v !== 0xffffffff ? v : null;
  };
  const arr = <T>(k: string): T[] | null => (Array.isArray(md.get(k)) ? (md.get(k) as T[]) : null);
  return {
    model: md.get('tokenizer.ggml.model') as string,
    pre: md.get('tokenizer.ggml.pre') as string | undefined,
    tokens: arr<string>('tokenizer.ggml.tokens')!,
    scores: arr<number>('tokenizer.ggml.scores'),
    tokenTypes: arr<number>('tokenizer.ggml.token_type'),
    merges: arr<string>('tokenizer.ggml.merges'),
    bosId: num('tokenizer.ggml.bos_token_id'),
    eosId: num('tokenizer.ggml.eos_token_id'),
    unkId: num('tokenizer.ggml.unknown_token_id'),
    addBos: md.get('tokenizer.ggml.add_bos_token') as boolean | undefined,
  };
}
