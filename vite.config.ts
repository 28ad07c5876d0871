import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { modelsPlugin } from './scripts/vite-models-plugin.ts';

// The workbench is a static site. In development (`npm start`) the models directory
// (default ../shared/models, override with LAYERLAB_MODELS) is served under /models/
// so the bundled default model loads with no download; weights are never copied into public/.
export default defineConfig({
  // Relative asset URLs: the built site works from any path of a static host (the hosted demo).
  base: './',
  plugins: [react(), modelsPlugin()],
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: true },
  server: { fs: { allow: ['.', '..'] } },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
});
