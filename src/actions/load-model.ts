// Loading models: the catalog of the models directory (/models/index.json), the bundled default, a
// catalog entry, local files (drop or picker) and Hugging Face repos. A failed load leaves the loaded
// model in place (the engine swaps models only after the new one has loaded) and shows the error.

import * as Comlink from 'comlink';
import type { BackendChoice, ModelSource } from '../worker/api.ts';
import {
  catalogEntries, defaultEntry, modelLoaded, parseModelsIndex, patchModel, workbench,
  type CatalogEntry, type UserError,
} from '../store/index.ts';
import { cancelJob, engine, runJob, throttledProgress, toUserError } from './engine.ts';
import { fetchHubModel } from './hub.ts';
import { retokenize } from './calibration.ts';
import { modelFileUrl } from './models-url.ts';

/** Files below this size are copied to the worker (so the page can explain a failure); larger ones are transferred. */
const COPY_LIMIT = 256 * 1024 * 1024;

/** An absolute URL for a path under the models directory, relative to the page (works from any static host path). */
export function modelUrl(path: string): string {
  return modelFileUrl(path, document.baseURI);
}

export async function loadCatalog(): Promise<CatalogEntry[]> {
  try {
    const res = await fetch(modelFileUrl('index.json', document.baseURI));
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const entries = catalogEntries(parseModelsIndex(await res.json()));
    patchModel(workbench, { catalog: entries, catalogError: null });
    return entries;
  } catch (e) {
    patchModel(workbench, {
      catalogError: `no model listing at models/index.json (${e instanceof Error ? e.message : String(e)}); the bundled default is tried directly`,
    });
    return [];
  }
}

const GENERIC_HINT =
  'Check that the file is complete and is a GGUF file, a llama2.c checkpoint .bin with its tokenizer .bin, or a Hugging Face folder (config.json, tokenizer.json, *.safetensors).';

/**
 * The loader's own hint for a failed local load. Errors cross the worker boundary as plain Error
 * objects (message and name only), so when the hint did not survive, the page re-runs the format
 * detection on the bytes it still holds (cheap: a bad file fails in its header) to recover it.
 */
async function explainLoadError(e: unknown, files: { name: string; bytes: Uint8Array }[] | null, during: string): Promise<UserError> {
  const err = toUserError(e, during);
  if (err.hint) return err;
  const isLoadError = e instanceof Error && e.name === 'LoadError';
  if (!isLoadError) return err;
  if (!files) return { ...err, hint: GENERIC_HINT };
  try {
    const { loadModelFromFiles } = await import('../core/formats/load.ts');
    loadModelFromFiles(files);
  } catch (again) {
    const x = again as { message?: string; hint?: unknown; code?: unknown };
    if (typeof x.hint === 'string') return { ...err, hint: x.hint, ...(typeof x.code === 'string' ? { code: x.code } : {}) };
  }
  return { ...err, hint: GENERIC_HINT };
}

async function loadSource(
  source: ModelSource,
  label: string,
  key: string | null,
  pageFiles: { name: string; bytes: Uint8Array }[] | null,
  backend: BackendChoice = 'auto',
): Promise<boolean> {
  // A new model makes the running analysis moot: stop it rather than make the user wait.
  const running = workbench.getState().job;
  if (running && running.kind !== 'load') void cancelJob();
  return runJob('load', `load ${label}`, async () => {
    patchModel(workbench, { loading: { label, progress: null }, error: null, status: workbench.getState().model.info ? 'ready' : 'loading' });
    const tp = throttledProgress((p) => patchModel(workbench, { loading: { label, progress: p } }));
    try {
      const info = await engine().load(source, { backend }, tp.progress);
      tp.stop();
      modelLoaded(workbench, info, label, key);
    } catch (e) {
      tp.stop();
      const error = await explainLoadError(e, pageFiles, `loading ${label}`);
      const had = workbench.getState().model.info !== null;
      patchModel(workbench, { loading: null, error, status: had ? 'ready' : 'error' });
      return false;
    }
    await retokenize();
    return true;
  });
}

export function loadEntry(entry: CatalogEntry): Promise<boolean> {
  return loadSource({ kind: 'urls', urls: entry.files.map(modelUrl) }, entry.label, entry.key, null);
}

export function loadDefault(): Promise<boolean> {
  return loadEntry(defaultEntry(workbench.getState().model.catalog));
}

/** Local files (drop or picker; folders arrive as their files). */
export async function loadLocalFiles(list: File[], backend: BackendChoice = 'auto'): Promise<boolean> {
  if (list.length === 0) return false;
  const label = list.length === 1 ? list[0].name : `${list.length} files (${list.map((f) => f.name).slice(0, 3).join(', ')}${list.length > 3 ? ', ...' : ''})`;
  let files: { name: string; bytes: Uint8Array }[];
  try {
    files = await Promise.all(
      list.map(async (f) => ({ name: (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name, bytes: new Uint8Array(await f.arrayBuffer()) })),
    );
  } catch (e) {
    patchModel(workbench, { error: toUserError(e, `reading ${label}`) });
    return false;
  }
  const total = files.reduce((a, f) => a + f.bytes.byteLength, 0);
  const source: ModelSource = { kind: 'files', files };
  if (total > COPY_LIMIT) {
    return loadSource(Comlink.transfer(source, files.map((f) => f.bytes.buffer as ArrayBuffer)), label, null, null, backend);
  }
  return loadSource(source, label, null, files, backend);
}

/** A Hugging Face repo (one .gguf, or config.json + tokenizer.json + safetensors), cached for the next visit. */
export async function loadFromHub(rawRepo: string, rawFile: string, backend: BackendChoice = 'auto'): Promise<boolean> {
  const label = `${rawRepo.trim()}${rawFile.trim() ? `/${rawFile.trim()}` : ''} (Hugging Face)`;
  patchModel(workbench, { loading: { label, progress: null }, error: null });
  let fetched: Awaited<ReturnType<typeof fetchHubModel>>;
  try {
    fetched = await fetchHubModel(rawRepo, rawFile, (p) => patchModel(workbench, { loading: { label, progress: p } }));
  } catch (e) {
    patchModel(workbench, { loading: null, error: toUserError(e, `fetching ${label}`) });
    return false;
  }
  const total = fetched.files.reduce((a, f) => a + f.bytes.byteLength, 0);
  const source: ModelSource = { kind: 'files', files: fetched.files };
  if (total > COPY_LIMIT) {
    return loadSource(Comlink.transfer(source, fetched.files.map((f) => f.bytes.buffer as ArrayBuffer)), label, `hf:${fetched.repo}`, null, backend);
  }
  return loadSource(source, label, `hf:${fetched.repo}`, fetched.files, backend);
}

/** Collects the files of dropped items, walking dropped folders (Chrome's webkitGetAsEntry). */
export async function filesFromDrop(dt: DataTransfer): Promise<File[]> {
  const entries = [...dt.items]
    .map((it) => (typeof it.webkitGetAsEntry === 'function' ? it.webkitGetAsEntry() : null))
    .filter((e): e is FileSystemEntry => e !== null);
  if (entries.length === 0) return [...dt.files];
  const out: File[] = [];
  const walk = async (e: FileSystemEntry, depth: number): Promise<void> => {
    if (e.isFile) {
      out.push(await new Promise<File>((res, rej) => (e as FileSystemFileEntry).file(res, rej)));
    } else if (e.isDirectory && depth < 4) {
      const reader = (e as FileSystemDirectoryEntry).createReader();
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
        if (batch.length === 0) break;
        for (const c of batch) await walk(c, depth + 1);
      }
    }
  };
  for (const e of entries) await walk(e, 0);
  return out;
}
