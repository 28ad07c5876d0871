// The models the dev/preview server offers under /models/ (scripts/vite-models-plugin.ts writes
// /models/index.json: one entry per folder holding model files). This turns that listing into loadable
// choices: each .gguf file is one model; config.json + *.safetensors (+ tokenizer files) is one model;
// a llama2.c checkpoint .bin with its tokenizer .bin is one model. Pure data in, pure data out.

export type CatalogFormat = 'gguf' | 'safetensors' | 'llama2c';

export interface CatalogEntry {
  /** Stable key: the main file's path relative to the models root. */
  key: string;
  /** What the list shows ("stories260K (llama2.c)"). */
  label: string;
  format: CatalogFormat;
  /** Paths relative to the models root, all needed to load the model. */
  files: string[];
  bytes: number;
}

export interface ModelsIndex {
  models: { id: string; files: { path: string; bytes: number }[] }[];
}

/** The bundled default: stories260K in llama2.c format with its 512-token tokenizer. */
export const DEFAULT_MODEL_KEY = 'stories260K/stories260K.bin';
export const DEFAULT_MODEL_FILES = ['stories260K/stories260K.bin', 'stories260K/tok512.bin'];

const base = (p: string): string => p.split('/').pop() ?? p;
const lower = (p: string): string => base(p).toLowerCase();

/** Checks the JSON shape of /models/index.json; throws a plain message on anything unexpected. */
export function parseModelsIndex(v: unknown): ModelsIndex {
  const bad = (why: string): never => {
    throw new Error(`/models/index.json is not a model listing (${why})`);
  };
  if (typeof v !== 'object' || v === null) return bad('not an object');
  const models = (v as { models?: unknown }).models;
  if (!Array.isArray(models)) return bad('no "models" array');
  return {
    models: models.map((m, i) => {
      if (typeof m !== 'object' || m === null) return bad(`entry ${i} is not an object`);
      const { id, files } = m as { id?: unknown; files?: unknown };
      if (typeof id !== 'string' || !Array.isArray(files)) return bad(`entry ${i} has no id/files`);
      return {
        id,
        files: files.map((f) => {
          const { path, bytes } = (f ?? {}) as { path?: unknown; bytes?: unknown };
          if (typeof path !== 'string' || typeof bytes !== 'number') return bad(`entry ${i} has a malformed file`);
          return { path, bytes };
        }),
      };
    }),
  };
}

/** Loadable models of a listing, the default first, then by label. */
export function catalogEntries(index: ModelsIndex): CatalogEntry[] {
  const out: CatalogEntry[] = [];
  for (const m of index.models) {
    const files = m.files;
    const size = (paths: string[]): number => paths.reduce((a, p) => a + (files.find((f) => f.path === p)?.bytes ?? 0), 0);
    for (const f of files) {
      if (!lower(f.path).endsWith('.gguf')) continue;
      out.push({ key: f.path, label: `${f.path.replace(/\.gguf$/i, '')} (GGUF)`, format: 'gguf', files: [f.path], bytes: f.bytes });
    }
    const shards = files.filter((f) => lower(f.path).endsWith('.safetensors')).map((f) => f.path);
    const config = files.find((f) => lower(f.path) === 'config.json');
    if (shards.length > 0 && config) {
      const extra = files
        .filter((f) => ['tokenizer.json', 'tokenizer_config.json'].includes(lower(f.path)) || lower(f.path).endsWith('.safetensors.index.json'))
        .map((f) => f.path);
      const all = [config.path, ...extra, ...shards.sort()];
      out.push({ key: shards[0], label: `${m.id} (safetensors)`, format: 'safetensors', files: all, bytes: size(all) });
    }
    const bins = files.filter((f) => lower(f.path).endsWith('.bin'));
    const toks = bins.filter((f) => /^tok/.test(lower(f.path)));
    const ckpts = bins.filter((f) => !/^tok/.test(lower(f.path)));
    if (toks.length >= 1) {
      for (const c of ckpts) {
        const all = [c.path, toks[0].path];
        out.push({ key: c.path, label: `${c.path.replace(/\.bin$/i, '')} (llama2.c)`, format: 'llama2c', files: all, bytes: size(all) });
      }
    }
  }
  out.sort((a, b) => (a.key === DEFAULT_MODEL_KEY ? -1 : b.key === DEFAULT_MODEL_KEY ? 1 : a.label.localeCompare(b.label)));
  return out;
}

/** The default entry, from the listing when it has it, else the well-known paths. */
export function defaultEntry(entries: CatalogEntry[]): CatalogEntry {
  return (
    entries.find((e) => e.key === DEFAULT_MODEL_KEY) ?? {
      key: DEFAULT_MODEL_KEY,
      label: 'stories260K (llama2.c)',
      format: 'llama2c',
      files: DEFAULT_MODEL_FILES,
      bytes: 0,
    }
  );
}
