// Share links: the page URL's hash `#s=<token>` holds the model id (a catalog key of the models folder,
// or `hf:owner/name` for a Hugging Face repo, with its file), the calibration preset and the allocation
// (layerlab.allocation/1). The token is 'z' + base64url(deflate-raw(JSON)) where the browser has
// CompressionStream, else 'j' + base64url(JSON). Everything read back is validated field by field
// (allocation through core/allocation/schema.ts validateAllocation) and only ever used as data: the
// page never renders it as HTML nor runs it.
import { validateAllocation, type Allocation } from '../core/allocation/schema.ts';
import { PRESETS } from './presets.ts';

export const SHARE_PARAM = 's';
export const SHARE_VERSION = 1;
/** Longest token read (characters) and largest decompressed JSON (bytes): a link is not a payload channel. */
export const MAX_TOKEN_CHARS = 64 * 1024;
export const MAX_JSON_BYTES = 1024 * 1024;

export interface SharePayload {
  v: typeof SHARE_VERSION;
  /** Catalog key (e.g. "stories260K/stories260K.bin") or "hf:owner/name". */
  model: string;
  /** File inside the hub repo (hub models only, optional). */
  file?: string;
  preset: string | null;
  allocation: Allocation | null;
}

export type ModelId = { kind: 'catalog'; key: string } | { kind: 'hub'; repo: string };

/** A model id from a link: a relative path of plain segments ending in a model file, or hf:owner/name. */
export function parseModelId(id: string): ModelId | null {
  if (typeof id !== 'string' || id.length > 300) return null;
  const hub = /^hf:([A-Za-z0-9][A-Za-z0-9_.-]*(?:\/[A-Za-z0-9][A-Za-z0-9_.-]*)?)$/.exec(id);
  if (hub) return hub[1].includes('..') ? null : { kind: 'hub', repo: hub[1] };
  const segs = id.split('/');
  if (segs.some((s) => !/^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/.test(s) || s.includes('..'))) return null;
  if (!/\.(gguf|bin|safetensors|onnx)$/i.test(id)) return null;
  return { kind: 'catalog', key: id };
}

/** A hub file path from a link (same rule as the hub loader: no '..', no leading '/'). */
function okRepoFile(f: string): boolean {
  return f.length > 0 && f.length <= 300 && !f.startsWith('/') && !f.split('/').some((p) => p === '..' || p === '') && /^[\w./+-]+$/.test(f);
}

export function base64urlEncode(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function base64urlDecode(s: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new Error('not base64url');
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const hasCompression = (): boolean => typeof CompressionStream === 'function' && typeof DecompressionStream === 'function';

async function streamBytes(input: Uint8Array, ts: CompressionStream | DecompressionStream, limit: number): Promise<Uint8Array> {
  const writer = ts.writable.getWriter();
  const done = writer.write(input as Uint8Array<ArrayBuffer>).then(() => writer.close()).catch(() => undefined);
  const reader = (ts.readable as ReadableStream<Uint8Array>).getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { value, done: end } = await reader.read();
    if (end) break;
    n += value.byteLength;
    if (n > limit) {
      await reader.cancel();
      throw new Error(`the link's data is larger than ${limit} bytes`);
    }
    parts.push(value);
  }
  await done;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

/** The token for a payload ('z' compressed when the browser can, else 'j'). */
export async function encodeShare(p: SharePayload, opts: { compress?: boolean } = {}): Promise<string> {
  const json = new TextEncoder().encode(JSON.stringify(p));
  if ((opts.compress ?? true) && hasCompression()) {
    return 'z' + base64urlEncode(await streamBytes(json, new CompressionStream('deflate-raw'), Number.MAX_SAFE_INTEGER));
  }
  return 'j' + base64urlEncode(json);
}

export type DecodeResult = { ok: true; payload: SharePayload } | { ok: false; error: string };

/** Reads a token back; every field is checked, nothing is trusted. */
export async function decodeShare(token: string): Promise<DecodeResult> {
  const fail = (error: string): DecodeResult => ({ ok: false, error });
  if (typeof token !== 'string' || token.length < 2) return fail('the share link is empty');
  if (token.length > MAX_TOKEN_CHARS) return fail(`the share link is too long (${token.length} characters; at most ${MAX_TOKEN_CHARS})`);
  let raw: unknown;
  try {
    const bytes = base64urlDecode(token.slice(1));
    let json: Uint8Array;
    if (token[0] === 'z') {
      if (!hasCompression()) return fail('this browser cannot read compressed share links (no DecompressionStream)');
      json = await streamBytes(bytes, new DecompressionStream('deflate-raw'), MAX_JSON_BYTES);
    } else if (token[0] === 'j') {
      if (bytes.byteLength > MAX_JSON_BYTES) return fail('the share link holds too much data');
      json = bytes;
    } else return fail('the share link is not one LayerLab wrote (unknown encoding)');
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch (e) {
    return fail(`the share link is damaged (${e instanceof Error ? e.message : String(e)}); was it cut short when copied?`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail('the share link does not hold a LayerLab state');
  const o = raw as Record<string, unknown>;
  if (o.v !== SHARE_VERSION) return fail(`the share link has version ${JSON.stringify(o.v)?.slice(0, 20)}; this page reads version ${SHARE_VERSION}`);
  if (typeof o.model !== 'string' || !parseModelId(o.model)) return fail(`the share link names a model id this page does not accept: ${JSON.stringify(o.model)?.slice(0, 120)}`);
  const out: SharePayload = { v: SHARE_VERSION, model: o.model, preset: null, allocation: null };
  if (o.file !== undefined) {
    if (typeof o.file !== 'string' || !okRepoFile(o.file) || parseModelId(o.model)!.kind !== 'hub') return fail('the share link has a bad repo file');
    out.file = o.file;
  }
  if (o.preset !== null && o.preset !== undefined) {
    if (typeof o.preset !== 'string' || !PRESETS.some((p) => p.id === o.preset)) return fail(`the share link names an unknown calibration preset: ${JSON.stringify(o.preset)?.slice(0, 60)}`);
    out.preset = o.preset;
  }
  if (o.allocation !== null && o.allocation !== undefined) {
    const v = validateAllocation(o.allocation);
    if (!v.ok) return fail(`the share link's allocation is not valid: ${v.errors.slice(0, 3).map((e) => `${e.path}: ${e.message}`).join('; ')}`);
    out.allocation = v.allocation;
  }
  for (const k of Object.keys(o)) if (!['v', 'model', 'file', 'preset', 'allocation'].includes(k)) return fail(`the share link has an unknown field "${k.slice(0, 40)}"`);
  return { ok: true, payload: out };
}

/** The page URL with the token in its hash (any old hash replaced). */
export function shareUrl(pageUrl: string, token: string): string {
  const u = new URL(pageUrl);
  u.hash = `${SHARE_PARAM}=${token}`;
  return u.href;
}

/** The token of a URL's hash (#s=...), or null when the URL has none. */
export function shareTokenOf(url: string): string | null {
  const h = new URL(url).hash.replace(/^#/, '');
  for (const part of h.split('&')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i) === SHARE_PARAM) return part.slice(i + 1);
  }
  return null;
}
