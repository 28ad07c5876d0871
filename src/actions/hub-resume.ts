// Resumable downloads into Cache Storage (the hub files of src/actions/hub.ts). While a file streams in,
// every `partBytes` received (default 8 MiB) are stored as a part under "<url>?layerlab-part=<i>", with
// a small manifest under "<url>?layerlab-part=meta" (total length and ETag of the file). A download that
// was interrupted (network error, tab closed) resumes from the parts already kept: the request carries
// `Range: bytes=N-` (RFC 9110 section 14) and a 206 answer is appended after them; a 200 (a server that
// ignores Range), a Content-Range that does not start at N, a different total or ETag start over from
// byte 0. The finished file is checked against its total length, stored whole under <url>, and the parts
// and manifest are deleted. The Cache API matches keys by URL without fragments, hence a query parameter.

export const PART_BYTES = 8 * 1024 * 1024;

/** The subset of the Cache API used here (a real Cache, or a fake in tests). */
export interface CacheLike {
  match(key: string): Promise<Response | undefined>;
  put(key: string, res: Response): Promise<void>;
  delete(key: string): Promise<boolean>;
}

export interface ResumableOptions {
  cache: CacheLike | null;
  fetchImpl?: (url: string, init: RequestInit) => Promise<Response>;
  /** Bytes per stored part (default PART_BYTES). */
  partBytes?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** Throws for a response that is not the file (HTTP errors); called before the body is read. */
  checkResponse?: (res: Response) => void;
  /** Extra attempts after a network error in the same call, each resuming from the kept parts (default 2). */
  retries?: number;
}

interface Manifest {
  total: number | null;
  etag: string | null;
}

export const partKey = (url: string, i: number | 'meta'): string => `${url}${url.includes('?') ? '&' : '?'}layerlab-part=${i}`;

/** "bytes 100-199/1000" -> {start: 100, end: 199, total: 1000} (total null for '*'). */
export function parseContentRange(v: string | null): { start: number; end: number; total: number | null } | null {
  const m = v ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(v.trim()) : null;
  if (!m) return null;
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? null : Number(m[3]) };
}

async function readManifest(cache: CacheLike | null, url: string): Promise<Manifest | null> {
  const r = await cache?.match(partKey(url, 'meta'));
  if (!r) return null;
  try {
    const v = (await r.json()) as Manifest;
    return { total: typeof v.total === 'number' ? v.total : null, etag: typeof v.etag === 'string' ? v.etag : null };
  } catch {
    return null;
  }
}

/** The parts kept so far, in order (stops at the first missing one). */
async function readParts(cache: CacheLike | null, url: string): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  if (!cache) return out;
  for (let i = 0; ; i++) {
    const r = await cache.match(partKey(url, i));
    if (!r) return out;
    out.push(new Uint8Array(await r.arrayBuffer()));
  }
}

async function dropParts(cache: CacheLike | null, url: string, from = 0): Promise<void> {
  if (!cache) return;
  await cache.delete(partKey(url, 'meta'));
  for (let i = from; await cache.delete(partKey(url, i)); i++);
}

const etagOf = (res: Response): string | null => res.headers.get('x-linked-etag') ?? res.headers.get('etag');

function concatAll(chunks: Uint8Array[], n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
}

/** One attempt: resume from the kept parts (or start), stream the rest, store parts as they fill. */
async function attempt(url: string, o: ResumableOptions): Promise<Uint8Array<ArrayBuffer>> {
  const cache = o.cache;
  const partBytes = o.partBytes ?? PART_BYTES;
  const doFetch = o.fetchImpl ?? ((u: string, init: RequestInit) => fetch(u, init));
  let manifest = await readManifest(cache, url);
  let parts = manifest ? await readParts(cache, url) : [];
  let have = parts.reduce((a, p) => a + p.byteLength, 0);
  if (!manifest && cache) await dropParts(cache, url);

  const init: RequestInit = { signal: o.signal, mode: 'cors' };
  if (have > 0) init.headers = { Range: `bytes=${have}-` };
  let res = await doFetch(url, init);
  let total: number | null = null;
  if (have > 0 && res.status === 416 && manifest?.total === have) {
    // Everything was kept already (interrupted between the last part and the final store).
    total = have;
  } else {
    if (have > 0 && res.status === 206) {
      const cr = parseContentRange(res.headers.get('content-range'));
      const len = res.headers.get('content-length');
      const t = cr ? cr.total : len !== null ? have + Number(len) : null;
      const et = etagOf(res);
      const sameFile = (!cr || cr.start === have) && (manifest!.total === null || t === null || t === manifest!.total) && (!manifest!.etag || !et || et === manifest!.etag);
      if (sameFile) total = t ?? manifest!.total;
      else {
        // Another file behind the same URL, or another range: start over.
        await res.body?.cancel().catch(() => undefined);
        await dropParts(cache, url);
        parts = [];
        have = 0;
        manifest = null;
        res = await doFetch(url, { signal: o.signal, mode: 'cors' });
      }
    } else if (have > 0) {
      // A 200 (Range ignored: the whole file follows) or another answer: the kept parts are of no use.
      await dropParts(cache, url);
      parts = [];
      have = 0;
      manifest = null;
      if (res.status !== 200) {
        await res.body?.cancel().catch(() => undefined);
        res = await doFetch(url, { signal: o.signal, mode: 'cors' });
      }
    }
    o.checkResponse?.(res);
    if (!res.ok) throw new Error(`HTTP ${res.status} for ${url}`);
    if (have === 0) {
      const len = res.headers.get('content-length');
      total = len !== null && /^\d+$/.test(len) ? Number(len) : null;
      manifest = { total, etag: etagOf(res) };
      await cache?.put(partKey(url, 'meta'), new Response(JSON.stringify(manifest), { headers: { 'content-type': 'application/json' } })).catch(() => undefined);
    }
  }

  const chunks: Uint8Array[] = [...parts];
  let done = have;
  let nextPart = parts.length;
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const report = () => o.onProgress?.(done, total ?? done);
  const flush = async (all: boolean) => {
    while (pendingBytes >= partBytes || (all && pendingBytes > 0)) {
      const n = Math.min(partBytes, pendingBytes);
      const joined = concatAll(pending, pendingBytes);
      const part = joined.slice(0, n);
      pending = n < pendingBytes ? [joined.subarray(n)] : [];
      pendingBytes -= n;
      await cache?.put(partKey(url, nextPart), new Response(part, { headers: { 'content-type': 'application/octet-stream' } })).catch(() => undefined);
      nextPart++;
    }
  };
  report();
  if (res.status !== 416) {
    if (!res.body) {
      const b = new Uint8Array(await res.arrayBuffer());
      chunks.push(b);
      done += b.byteLength;
    } else {
      const reader = res.body.getReader();
      try {
        for (;;) {
          const { value, done: end } = await reader.read();
          if (end) break;
          chunks.push(value);
          pending.push(value);
          pendingBytes += value.byteLength;
          done += value.byteLength;
          report();
          await flush(false);
        }
      } catch (e) {
        // Keep what arrived for the next attempt, then report the interruption.
        await flush(true).catch(() => undefined);
        throw e;
      }
    }
  }
  if (total !== null && done !== total) {
    await flush(true).catch(() => undefined);
    throw new Error(`download of ${url} ended at ${done} of ${total} bytes`);
  }
  const out = concatAll(chunks, done);
  try {
    await cache?.put(url, new Response(out, { headers: { 'content-type': 'application/octet-stream' } }));
  } catch {
    // A full quota only costs the next visit a download.
  }
  await dropParts(cache, url).catch(() => undefined);
  report();
  return out;
}

/**
 * Fetches `url` into memory, resuming from parts kept in `cache` by an earlier interrupted download and
 * retrying a network interruption up to `retries` times (each retry resumes). HTTP errors and aborts are
 * not retried. The whole file ends up under `url` in the cache, the parts are removed.
 */
export async function resumableFetch(url: string, o: ResumableOptions): Promise<Uint8Array<ArrayBuffer>> {
  const retries = o.retries ?? 2;
  for (let i = 0; ; i++) {
    try {
      return await attempt(url, o);
    } catch (e) {
      const aborted = o.signal?.aborted || (e instanceof Error && e.name === 'AbortError');
      const network = e instanceof TypeError || (e instanceof Error && /ended at \d+ of \d+ bytes/.test(e.message));
      if (aborted || !network || i >= retries) throw e;
    }
  }
}
