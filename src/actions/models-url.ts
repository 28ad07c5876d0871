// Where the page fetches the models directory from: `models/` next to the page by default (the dev and
// preview servers mount LAYERLAB_MODELS there), or the URL given at build time with
// LAYERLAB_MODELS_URL (vite.config.ts defines __LAYERLAB_MODELS_URL__), e.g. a hosted demo built with
// LAYERLAB_MODELS_URL=https://huggingface.co/karpathy/tinyllamas/resolve/main/ fetches the default
// stories260K/stories260K.bin + stories260K/tok512.bin from the hub. Model files are never copied into the build.

declare const __LAYERLAB_MODELS_URL__: string | undefined;

/** The configured models URL as written (relative to the page, or absolute); 'models/' when not configured. */
export function configuredModelsUrl(): string {
  const v = typeof __LAYERLAB_MODELS_URL__ === 'string' ? __LAYERLAB_MODELS_URL__.trim() : '';
  return v ? (v.endsWith('/') ? v : `${v}/`) : 'models/';
}

/** Absolute URL of the models folder, resolved against the page's base URL. */
export function modelsBaseUrl(pageBase: string, configured = configuredModelsUrl()): string {
  return new URL(configured, pageBase).href;
}

/** Absolute URL of one file under the models folder (each path segment URL-encoded). */
export function modelFileUrl(path: string, pageBase: string, configured = configuredModelsUrl()): string {
  return new URL(path.split('/').map(encodeURIComponent).join('/'), modelsBaseUrl(pageBase, configured)).href;
}
