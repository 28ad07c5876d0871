// Fetch a URL into memory with byte progress. Used by the worker for the bundled models (/models/...)
// and Hugging Face hub files.

export async function fetchBytes(url: string, onProgress?: (done: number, total: number) => void, signal?: AbortSignal): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url, { signal });
  } catch (e) {
    throw new Error(`could not fetch ${url}: ${(e as Error).message}. Check the address and your connection.`);
  }
  if (!res.ok) throw new Error(`could not fetch ${url}: HTTP ${res.status} ${res.statusText}`);
  return readBody(res, onProgress);
}

/** A response body into one array, reporting bytes as they arrive (total = content-length when given). */
export async function readBody(res: Response, onProgress?: (done: number, total: number) => void): Promise<Uint8Array<ArrayBuffer>> {
  const total = Number(res.headers.get('content-length') ?? 0);
  if (!res.body) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let done = 0;
  for (;;) {
    const { value, done: end } = await reader.read();
    if (end) break;
    chunks.push(value);
    done += value.byteLength;
    onProgress?.(done, total || done);
  }
  const out = new Uint8Array(done);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
}
