// Fit before loading: reads what a model's files tell without loading them (sizes; the tensor table of a
// GGUF header or a safetensors header, read from the start of the file: File.slice for local files,
// an HTTP Range request for hub files), asks the worker for the adapter's limits and returns the
// estimate of src/core/formats/fit.ts.

import { estimateFit, ggufTensorSizes, safetensorsHeaderLength, safetensorsTensorSizes, type FitEstimate, type TensorSize } from '../core/formats/fit.ts';
import { LoadError } from '../core/formats/errors.ts';
import { engine } from './engine.ts';
import { HUB_ORIGIN, HubError, checkRepoId, checkRepoPath, chooseFiles, resolveUrl } from './hub.ts';

/** Reads bytes [start, end) of a file. */
export type RangeReader = (start: number, end: number) => Promise<Uint8Array>;

/** GGUF header prefixes tried in turn (a big vocabulary can take several MiB of metadata). */
const GGUF_PREFIXES = [1, 8, 32, 96].map((m) => m * 1024 * 1024);

/** The tensor table of one file from its first bytes, or null when the format has none worth reading. */
export async function tensorTable(name: string, size: number, read: RangeReader): Promise<TensorSize[] | null> {
  if (/\.gguf$/i.test(name)) {
    for (const n of GGUF_PREFIXES) {
      const prefix = await read(0, Math.min(n, size));
      try {
        return ggufTensorSizes(prefix);
      } catch (e) {
        if (!(e instanceof LoadError && e.code === 'truncated') || n >= size) throw e;
      }
    }
    return null;
  }
  if (/\.safetensors$/i.test(name)) {
    const n = safetensorsHeaderLength(await read(0, 8));
    return safetensorsTensorSizes(await read(0, n));
  }
  return null;
}

async function deviceLimits(): Promise<{ limits: { maxStorageBufferBindingSize: number; maxBufferSize: number } | null; note: string }> {
  const a = await engine().adapterLimits();
  return a.available ? { limits: a.limits, note: `${a.adapter}${a.software ? ' (software adapter)' : ''}` } : { limits: null, note: a.reason };
}

export interface FitCheck {
  estimate: FitEstimate;
  files: { name: string; size: number }[];
  adapter: string;
}

/** Local files (picker or drop): File.size and File.slice. */
export async function checkLocalFiles(list: File[]): Promise<FitCheck> {
  const files = list.map((f) => ({ name: (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name, size: f.size }));
  let tensors: TensorSize[] | null = null;
  for (const f of list) {
    const t = await tensorTable(f.name, f.size, async (s, e) => new Uint8Array(await f.slice(s, e).arrayBuffer()));
    if (t) tensors = [...(tensors ?? []), ...t];
  }
  const d = await deviceLimits();
  return { estimate: estimateFit(files, tensors, d.limits), files, adapter: d.note };
}

/** Bytes [start, end) of a URL: a Range request; a server that ignores Range is read only that far. */
export async function readUrlRange(url: string, start: number, end: number, fetchImpl: typeof fetch = fetch): Promise<Uint8Array> {
  const res = await fetchImpl(url, { headers: { Range: `bytes=${start}-${end - 1}` }, mode: 'cors' });
  if (res.status === 206) return new Uint8Array(await res.arrayBuffer()).subarray(0, end - start);
  if (!res.ok) throw new HubError('http', `the hub answered HTTP ${res.status} for ${url}`, 'Try again later.');
  if (!res.body) return new Uint8Array(await res.arrayBuffer()).slice(start, end);
  const reader = res.body.getReader();
  const out = new Uint8Array(end);
  let n = 0;
  while (n < end) {
    const { value, done } = await reader.read();
    if (done) break;
    const take = Math.min(value.byteLength, end - n);
    out.set(value.subarray(0, take), n);
    n += take;
  }
  await reader.cancel().catch(() => undefined);
  return out.subarray(start, n);
}

/** A hub repo: the listing's file sizes (?blobs=true), then the chosen files' headers by Range. */
export async function checkHubRepo(rawRepo: string, rawFile: string): Promise<FitCheck & { repo: string }> {
  const repo = checkRepoId(rawRepo);
  const wanted = rawFile.trim() ? checkRepoPath(rawFile) : undefined;
  const res = await fetch(`${HUB_ORIGIN}/api/models/${repo}?blobs=true`, { mode: 'cors' }).catch((e: unknown) => {
    throw new HubError('unreachable', `could not reach the Hugging Face hub: ${e instanceof Error ? e.message : String(e)}`, 'Check the internet connection.');
  });
  if (res.status === 404) throw new HubError('not-found', `${repo} is not on the hub`, 'Check the repo id (it is case-sensitive).');
  if (!res.ok) throw new HubError('http', `the hub answered HTTP ${res.status} listing ${repo}`, 'Try again later.');
  const v = (await res.json()) as { siblings?: { rfilename?: string; size?: number; lfs?: { size?: number } }[] };
  const sizes = new Map<string, number>();
  for (const s of v.siblings ?? []) if (typeof s.rfilename === 'string') sizes.set(s.rfilename, s.lfs?.size ?? s.size ?? NaN);
  const chosen = chooseFiles(repo, [...sizes.keys()], wanted);
  const files = chosen.map((name) => ({ name, size: sizes.get(name) ?? NaN }));
  let tensors: TensorSize[] | null = null;
  for (const f of files) {
    const t = await tensorTable(f.name, Number.isFinite(f.size) ? f.size : Infinity, (s, e) => readUrlRange(resolveUrl(repo, f.name), s, e));
    if (t) tensors = [...(tensors ?? []), ...t];
  }
  const d = await deviceLimits();
  return { repo, estimate: estimateFit(files.map((f) => ({ ...f, size: Number.isFinite(f.size) ? f.size : 0 })), tensors, d.limits), files, adapter: d.note };
}
