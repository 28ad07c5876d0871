import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { modelsPlugin } from './scripts/vite-models-plugin.ts';
import { ortWasmPlugin } from './scripts/vite-ort-wasm-plugin.ts';

// The workbench is a static site. In development (`npm start`) the models directory
// (default ../shared/models, override with LAYERLAB_MODELS) is served under /models/
// so the bundled default model loads with no download; weights are never copied into public/ or dist/.
// A build fetches models from `models/` next to the page, or from LAYERLAB_MODELS_URL given at build time
// (src/actions/models-url.ts). onnxruntime-web's wasm runtime is self-hosted under ort/ (scripts/vite-ort-wasm-plugin.ts).
export default defineConfig({
  // Relative asset URLs: the built site works from any path of a static host (the hosted demo).
  base: './',
  plugins: [react(), modelsPlugin(), ortWasmPlugin()],
  define: { __LAYERLAB_MODELS_URL__: JSON.stringify(process.env.LAYERLAB_MODELS_URL ?? '') },
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: true },
  server: { fs: { allow: ['.', '..'] } },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
});
