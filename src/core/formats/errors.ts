// LoadError: the one error type every model loader throws for a bad or unsupported file. It carries a
// machine-readable `code` (for the UI) and a `hint` that tells the user what to do about it. Also the
// bounds-checked little-endian reader the binary parsers share, so that a corrupt length can never
// make a parser allocate or read past the end (it throws a LoadError saying how many bytes were
// expected and how many are there).

export type LoadErrorCode =
  | 'empty'
  | 'truncated'
  | 'bad-magic'
  | 'unsupported-version'
  | 'bad-header'
  | 'bad-metadata'
  | 'unknown-type'
  | 'unsupported-type'
  | 'missing-tensor'
  | 'bad-shape'
  | 'unsupported-architecture'
  | 'unsupported-feature'
  | 'incomplete-files'
  | 'unknown-format'
  | 'tokenizer';

export class LoadError extends Error {
  readonly code: LoadErrorCode;
  /** What the user can do about it (one sentence). */
  readonly hint: string;
  constructor(code: LoadErrorCode, message: string, hint: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LoadError';
    this.code = code;
    this.hint = hint;
  }
}

/** Formats a byte count for messages: "1,056,540 bytes". */
export function fmtBytes(n: number | bigint): string {
  return `${n.toLocaleString('en-US')} bytes`;
}

function ascii(bytes: Uint8Array, n: number): string {
  let s = '';
  for (let i = 0; i < Math.min(n, bytes.length); i++) s += String.fromCharCode(bytes[i]);
  return s;
}

/**
 * A short guess at what a file is, from its first bytes, for "bad magic" messages
 * (e.g. "a Git LFS pointer file", "a ZIP archive (PyTorch .bin/.pt checkpoint?)"). Null if unknown.
 */
export function describeBytes(bytes: Uint8Array): string | null {
  if (bytes.length === 0) return 'an empty file';
  const head = ascii(bytes, 64);
  if (head.startsWith('GGUF')) return 'a GGUF file';
  if (head.startsWith('version https://git-lfs')) {
    return 'a Git LFS pointer file (the real file was not downloaded: run `git lfs pull`)';
  }
  if (head.startsWith('PK\x03\x04')) return 'a ZIP archive (a PyTorch .bin/.pt checkpoint?)';
  if (head.startsWith('\x89HDF')) return 'an HDF5 file (a Keras/TF .h5 checkpoint?)';
  if (/^\s*<(!doctype|html|\?xml)/i.test(head)) return 'an HTML/XML page (a web page saved instead of the file?)';
  if (/^\s*[{[]/.test(head)) return 'a JSON text file';
  const le32 = bytes.length >= 4 ? (bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (bytes[3] << 24)) >>> 0 : -1;
  if (le32 === 0x67676d6c) return 'a legacy GGML file (magic "ggml"; convert it to GGUF with llama.cpp)';
  if (le32 === 0x67676d66) return 'a legacy GGMF file (convert it to GGUF with llama.cpp)';
  if (le32 === 0x67676a74) return 'a legacy GGJT file (convert it to GGUF with llama.cpp)';
  if (le32 === 0x67676c61) return 'a legacy GGLA LoRA file';
  if (le32 === 0x616b3432) return 'a llama2.c "ak42" export (version 1/2)';
  if (head.startsWith('FUGG')) return 'a big-endian GGUF file';
  if (bytes.length >= 10 && bytes[8] === 0x7b && bytes[9] === 0x22) return 'a safetensors file';
  if (bytes[0] === 0x80 && bytes.length > 1 && bytes[1] >= 2 && bytes[1] <= 5) return 'a Python pickle';
  return null;
}

/**
 * Little-endian cursor over a byte array that checks every read against the bytes that remain.
 * `what` names the file kind for messages ("GGUF", "safetensors", ...).
 */
export class ByteReader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  pos: number;
  private readonly what: string;
  private static readonly decoder = new TextDecoder('utf-8');

  constructor(bytes: Uint8Array, what: string, pos = 0) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = pos;
    this.what = what;
  }

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  /** Throws a 'truncated' LoadError unless `n` more bytes exist. `field` says what was being read. */
  need(n: number | bigint, field: string): void {
    if (BigInt(n) > BigInt(this.remaining)) {
      throw new LoadError(
        'truncated',
        `${this.what}: truncated or corrupt while reading ${field} at byte ${this.pos.toLocaleString('en-US')}: ` +
          `needs ${fmtBytes(n)} but only ${fmtBytes(this.remaining)} remain (file has ${fmtBytes(this.bytes.length)})`,
        'The file is incomplete or damaged: download it again and check its size.',
      );
    }
  }

  u8(field: string): number {
    this.need(1, field);
    return this.bytes[this.pos++];
  }
  i8(field: string): number {
    this.need(1, field);
    return this.view.getInt8(this.pos++);
  }
  u16(field: string): number {
    this.need(2, field);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  i16(field: string): number {
    this.need(2, field);
    const v = this.view.getInt16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(field: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  i32(field: string): number {
    this.need(4, field);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  f32(field: string): number {
    this.need(4, field);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }
  f64(field: string): number {
    this.need(8, field);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }
  u64(field: string): bigint {
    this.need(8, field);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }
  i64(field: string): bigint {
    this.need(8, field);
    const v = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return v;
  }
  /** A u64 length/count that must fit in the remaining bytes when each unit takes `unitBytes`. */
  count64(field: string, unitBytes: number): number {
    const start = this.pos;
    const n = this.u64(field);
    if (n * BigInt(unitBytes) > BigInt(this.remaining)) {
      this.pos = start;
      throw new LoadError(
        'truncated',
        `${this.what}: ${field} at byte ${start.toLocaleString('en-US')} is ${n.toLocaleString('en-US')}, which needs at least ` +
          `${fmtBytes(n * BigInt(unitBytes))} but only ${fmtBytes(this.remaining)} remain (file has ${fmtBytes(this.bytes.length)})`,
        'The file is truncated or corrupt: download it again and check its size.',
      );
    }
    return Number(n);
  }
  bytesView(n: number, field: string): Uint8Array {
    this.need(n, field);
    const v = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  utf8(n: number, field: string): string {
    return ByteReader.decoder.decode(this.bytesView(n, field));
  }
}
