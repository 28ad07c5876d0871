// Resumable hub downloads (src/actions/hub-resume.ts) with a mocked fetch (node's Request / Response /
// ReadableStream) and an in-memory fake of the Cache API: a download cut after its first part resumes
// with `Range: bytes=<kept>-` and yields the original bytes; a server that ignores Range (200) still
// gives the right file; a changed file (other total) starts over; the parts are removed at the end.
import { describe, expect, it } from 'vitest';
import { parseContentRange, partKey, resumableFetch, type CacheLike } from '../../src/actions/hub-resume.ts';

class FakeCache implements CacheLike {
  readonly store = new Map<string, Uint8Array>();
  readonly headers = new Map<string, string>();
  async match(key: string): Promise<Response | undefined> {
    const b = this.store.get(key);
    return b ? new Response(b.slice(), { headers: { 'content-type': this.headers.get(key) ?? '' } }) : undefined;
  }
  async put(key: string, res: Response): Promise<void> {
    this.headers.set(key, res.headers.get('content-type') ?? '');
    this.store.set(key, new Uint8Array(await res.arrayBuffer()));
  }
  async delete(key: string): Promise<boolean> {
    return this.store.delete(key);
  }
}

const URL0 = 'https://huggingface.co/o/m/resolve/main/model.gguf';
// Deterministic bytes (LCG), 1000 of them; parts of 256 bytes; the server sends 100-byte chunks.
const FILE = (() => {
  const b = new Uint8Array(1000);
  let x = 12345;
  for (let i = 0; i < b.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
})();

/** A body stream of `bytes` in `chunk`-sized pieces that fails with a TypeError after `failAfter` bytes. */
function body(bytes: Uint8Array, chunk: number, failAfter = Infinity): ReadableStream<Uint8Array> {
  let o = 0;
  return new ReadableStream({
    pull(c) {
      if (o >= failAfter) {
        c.error(new TypeError('network error'));
        return;
      }
      if (o >= bytes.length) {
        c.close();
        return;
      }
      c.enqueue(bytes.slice(o, o + chunk));
      o += chunk;
    },
  });
}

interface Call {
  range: string | null;
}

/** A hub-like server: honours `Range: bytes=N-` with 206 unless `ignoreRange`; the first call fails after `failAfter` bytes. */
function server(file: Uint8Array, opts: { ignoreRange?: boolean; failAfter?: number; etag?: string } = {}) {
  const calls: Call[] = [];
  const fetchImpl = async (_url: string, init: RequestInit): Promise<Response> => {
    const range = new Headers(init.headers).get('range');
    calls.push({ range });
    const fail = calls.length === 1 ? (opts.failAfter ?? Infinity) : Infinity;
    const m = range ? /^bytes=(\d+)-$/.exec(range) : null;
    const etag = opts.etag ?? '"abc"';
    if (m && !opts.ignoreRange) {
      const start = Number(m[1]);
      const rest = file.slice(start);
      return new Response(body(rest, 100, fail), {
        status: 206,
        headers: { 'content-length': String(rest.length), 'content-range': `bytes ${start}-${file.length - 1}/${file.length}`, etag },
      });
    }
    return new Response(body(file, 100, fail), { status: 200, headers: { 'content-length': String(file.length), etag } });
  };
  return { calls, fetchImpl };
}

describe('resumable hub downloads', () => {
  it('parses Content-Range', () => {
    expect(parseContentRange('bytes 256-999/1000')).toEqual({ start: 256, end: 999, total: 1000 });
    expect(parseContentRange('bytes 0-9/*')).toEqual({ start: 0, end: 9, total: null });
    expect(parseContentRange(null)).toBeNull();
  });

  it('an interrupted download keeps its parts, and the next call resumes with Range and gives the same bytes', async () => {
    const cache = new FakeCache();
    const s = server(FILE, { failAfter: 300 });
    // No retries: the first call fails after 300 bytes (one 256-byte part plus the 44 bytes flushed on error).
    await expect(resumableFetch(URL0, { cache, fetchImpl: s.fetchImpl, partBytes: 256, retries: 0 })).rejects.toThrow(/network error/);
    expect(cache.store.get(partKey(URL0, 0))?.length).toBe(256);
    expect(cache.store.get(partKey(URL0, 1))?.length).toBe(44);
    expect(cache.store.has(URL0)).toBe(false);
    const seen: [number, number][] = [];
    const got = await resumableFetch(URL0, { cache, fetchImpl: s.fetchImpl, partBytes: 256, retries: 0, onProgress: (d, t) => seen.push([d, t]) });
    expect(s.calls.map((c) => c.range)).toEqual([null, 'bytes=300-']);
    expect(got.length).toBe(FILE.length);
    expect(Buffer.from(got).equals(Buffer.from(FILE))).toBe(true);
    expect(seen[0]).toEqual([300, 1000]);
    expect(seen[seen.length - 1]).toEqual([1000, 1000]);
    // The whole file is stored, the parts and manifest are gone.
    expect([...cache.store.keys()]).toEqual([URL0]);
    expect(Buffer.from(cache.store.get(URL0)!).equals(Buffer.from(FILE))).toBe(true);
  });

  it('retries a network interruption within one call, resuming from the first part', async () => {
    const cache = new FakeCache();
    const s = server(FILE, { failAfter: 300 });
    const got = await resumableFetch(URL0, { cache, fetchImpl: s.fetchImpl, partBytes: 256 });
    expect(s.calls.map((c) => c.range)).toEqual([null, 'bytes=300-']);
    expect(Buffer.from(got).equals(Buffer.from(FILE))).toBe(true);
  });

  it('a server that ignores Range (200) gives the whole file from byte 0', async () => {
    const cache = new FakeCache();
    const s = server(FILE, { failAfter: 300, ignoreRange: true });
    await expect(resumableFetch(URL0, { cache, fetchImpl: s.fetchImpl, partBytes: 256, retries: 0 })).rejects.toThrow();
    const got = await resumableFetch(URL0, { cache, fetchImpl: s.fetchImpl, partBytes: 256, retries: 0 });
    expect(s.calls.map((c) => c.range)).toEqual([null, 'bytes=300-']);
    expect(Buffer.from(got).equals(Buffer.from(FILE))).toBe(true);
    expect([...cache.store.keys()]).toEqual([URL0]);
  });

  it('a file that changed behind the URL (other total length) starts over', async () => {
    const cache = new FakeCache();
    await expect(resumableFetch(URL0, { cache, fetchImpl: server(FILE, { failAfter: 300 }).fetchImpl, partBytes: 256, retries: 0 })).rejects.toThrow();
    const other = FILE.slice(0, 700).map((x) => x ^ 0xff);
    const s2 = server(other, { etag: '"new"' });
    const got = await resumableFetch(URL0, { cache, fetchImpl: s2.fetchImpl, partBytes: 256, retries: 0 });
    expect(s2.calls.map((c) => c.range)).toEqual(['bytes=300-', null]);
    expect(Buffer.from(got).equals(Buffer.from(other))).toBe(true);
  });

  it('a body shorter than its Content-Length is an error, not a file', async () => {
    const cache = new FakeCache();
    const short = async (): Promise<Response> => new Response(body(FILE.slice(0, 500), 100), { status: 200, headers: { 'content-length': '1000' } });
    await expect(resumableFetch(URL0, { cache, fetchImpl: short, partBytes: 256, retries: 0 })).rejects.toThrow(/ended at 500 of 1000 bytes/);
    expect(cache.store.has(URL0)).toBe(false);
  });

  it('HTTP errors go through checkResponse and are not retried', async () => {
    let n = 0;
    const nf = async (): Promise<Response> => (n++, new Response('no', { status: 404 }));
    await expect(
      resumableFetch(URL0, { cache: new FakeCache(), fetchImpl: nf, checkResponse: (r) => { if (r.status === 404) throw new Error('not found'); } }),
    ).rejects.toThrow(/not found/);
    expect(n).toBe(1);
  });
});
