// The page's "Download ONNX": engine.exportOnnx in the worker (src/worker/engine-onnx.ts, the code of
// `layerlab export-onnx`) as one job; the bytes come back transferred and the panel saves them.
import type { OnnxExportRequest, OnnxExportResponse } from '../worker/api.ts';
import { workbench } from '../store/index.ts';
import { engine, runJob } from './engine.ts';

/** The loaded model as ONNX with the chosen options (throws the engine's refusal for ONNX or too-big models). */
export function exportOnnxFromPage(req: OnnxExportRequest): Promise<OnnxExportResponse> {
  return runJob('export', 'export ONNX', async () => {
    if (!workbench.getState().model.info) throw new Error('no model is loaded');
    return engine().exportOnnx(req);
  });
}
