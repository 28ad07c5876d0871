// Hugging Face hub downloads: list a repo's files, choose the ones a model needs (one .gguf, or
// config.json + tokenizer files + *.safetensors), fetch them from
// https://huggingface.co/<repo>/resolve/main/<file> with byte progress, and keep the bytes in the
// browser's Cache Storage so that a second visit loads without the network; an interrupted download
// resumes from the bytes already kept (src/actions/hub-resume.ts).

import { resumableFetch } from './hub-resume.ts';

export const HUB_ORIGIN = 'https://huggingface.co';
export const HUB_CACHE = 'layerlab-hub-v1';

export class HubError extends Error {
  readonly hint: string;
  readonly code: string;
  constructor(code: string, message: string, hint: string) {
    super(message);
    this.name = 'HubError';
    this.code = code;
    this.hint = hint;
  }
}

/** A repo id as the hub spells it: "name" or "owner/name" (letters, digits, '-', '_', '.'). */
export function checkRepoId(raw: string): string {
  const s = raw.trim().replace(/^https:\/\/huggingface\.co\//, '').replace(/\/+$/, '');
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*(\/[A-Za-z0-9][A-Za-z0-9_.-]*)?$/.test(s) || s.includes('..') || s.length > 96) {
    throw new HubError('bad-repo-id', `"${raw.slice(0, 100)}" is not a Hugging Face repo id`, 'Write it as owner/name, e.g. Xenova/llama2.c-stories15M.');
  }
  return s;
}

/** A file path inside a repo, checked (no '..', no leading '/'). */
export function checkRepoPath(raw: string): string {
  const s = raw.trim();
  if (!s || s.startsWith('/') || s.split('/').some((p) => p === '..' || p === '') || !/^[\w./+-]+$/.test(s)) {
    throw new HubError('bad-file', `"${raw.slice(0, 100)}" is not a file path in a repo`, 'Give a path such as model.gguf or subfolder/model-Q8_0.gguf.');
  }
  return s;
}

export function resolveUrl(repo: string, file: string): string {
  return `${HUB_ORIGIN}/${repo}/resolve/main/${file.split('/').map(encodeURIComponent).join('/')}`;
}

const unreachable = (url: string, e: unknown): HubError =>
  new HubError(
    'unreachable',
    `could not reach the Hugging Face hub (${HUB_ORIGIN}) to fetch ${url}: ${e instanceof Error ? e.message : String(e)}`,
    'Check the internet connection (or a proxy/firewall). The bundled models and local files still work offline.',
  );

async function openCache(): Promise<Cache | null> {
  try {
    return typeof caches !== 'undefined' ? await caches.open(HUB_CACHE) : null;
  } catch {
    return null;
  }
}

/** Fetches a hub URL into memory with progress; serves and fills the Cache Storage copy. */
export async function cachedFetch(url: string, onProgress?: (done: number, total: number) => void, signal?: AbortSignal): Promise<Uint8Array> {
  const cache = await openCache();
  const hit = await cache?.match(url);
  if (hit) {
    const b = new Uint8Array(await hit.arrayBuffer());
    onProgress?.(b.byteLength, b.byteLength);
    return b;
  }
  const checkResponse = (res: Response): void => {
    if (res.status === 401 || res.status === 403) {
      throw new HubError('gated', `the hub refused ${url} (HTTP ${res.status})`, 'The repo is private or gated: open it on huggingface.co, accept its terms, or download the files and drop them here.');
    }
    if (res.status === 404) throw new HubError('not-found', `not found on the hub: ${url}`, 'Check the repo id and the file name (they are case-sensitive).');
    if (!res.ok) throw new HubError('http', `the hub answered HTTP ${res.status} for ${url}`, 'Try again later.');
  };
  // Resumable (src/actions/hub-resume.ts): parts of an interrupted download are kept in the cache and
  // the next try asks only for the rest (Range); a network interruption is retried twice at once.
  try {
    return await resumableFetch(url, { cache, onProgress, signal, checkResponse });
  } catch (e) {
    if (e instanceof HubError || (e instanceof Error && e.name === 'AbortError')) throw e;
    throw unreachable(url, e);
  }
}

/** The files of a repo (from the hub API, cached like the files). */
export async function listRepo(repo: string): Promise<string[]> {
  const url = `${HUB_ORIGIN}/api/models/${repo}`;
  const bytes = await cachedFetch(url);
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new HubError('bad-listing', `the hub's listing of ${repo} is not JSON`, 'Try again later.');
  }
  const siblings = (v as { siblings?: unknown }).siblings;
  if (!Array.isArray(siblings)) throw new HubError('bad-listing', `the hub's listing of ${repo} has no file list`, 'Try again later.');
  return siblings.map((s) => (s as { rfilename?: unknown }).rfilename).filter((n): n is string => typeof n === 'string');
}

/** The files a model needs from a repo listing, or a HubError saying what is missing. */
export function chooseFiles(repo: string, names: string[], wanted?: string): string[] {
  if (wanted) return [wanted];
  const ggufs = names.filter((n) => n.toLowerCase().endsWith('.gguf'));
  if (ggufs.length > 0) {
    const pref = ['q8_0', 'f16', 'f32', 'q4_k_m', 'q4_0'];
    for (const p of pref) {
      const hit = ggufs.find((n) => n.toLowerCase().includes(p));
      if (hit) return [hit];
    }
    return [ggufs[0]];
  }
  const top = names.filter((n) => !n.includes('/'));
  const shards = top.filter((n) => n.endsWith('.safetensors'));
  if (shards.length > 0 && top.includes('config.json')) {
    const extra = top.filter((n) => n === 'tokenizer.json' || n === 'tokenizer_config.json' || n.endsWith('.safetensors.index.json'));
    return ['config.json', ...extra, ...shards];
  }
  throw new HubError(
    'no-model-files',
    `${repo} has no .gguf file and no config.json + .safetensors weights at its top level`,
    'Choose a repo with a GGUF file or Hugging Face safetensors weights, or name the file to fetch.',
  );
}

/** Downloads (or reads from the cache) the files of a hub model. */
export async function fetchHubModel(
  rawRepo: string,
  rawFile: string,
  onProgress: (p: { done: number; total: number; what: string }) => void,
): Promise<{ repo: string; files: { name: string; bytes: Uint8Array }[] }> {
  const repo = checkRepoId(rawRepo);
  const wanted = rawFile.trim() ? checkRepoPath(rawFile) : undefined;
  onProgress({ done: 0, total: 1, what: `listing ${repo}` });
  const names = wanted ? [wanted] : await listRepo(repo);
  const chosen = chooseFiles(repo, names, wanted);
  const files: { name: string; bytes: Uint8Array }[] = [];
  for (const f of chosen) {
    const bytes = await cachedFetch(resolveUrl(repo, f), (done, total) => onProgress({ done, total, what: `download ${f}` }));
    files.push({ name: f, bytes });
  }
  return { repo, files };
}
