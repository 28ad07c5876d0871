// What an ONNX model (format 'onnx', run by onnxruntime-web: src/onnx/session.ts) gets in the panels, from
// ModelInfo.features and the graph analysis's meta: the metric groups that need LayerLab's own forward
// (a GGUF or safetensors file), and which allocation knobs the initializer rewrite applies.
import type { ModelInfo } from '../worker/api.ts';

/** Metric groups ONNX models do not get (the importance panel's ids plus the gradient metrics). */
const NATIVE_ONLY: Record<string, string> = {
  ablation: 'ablation re-runs the model with blocks skipped inside LayerLab\'s own forward',
  quant: 'quantization sensitivity re-runs LayerLab\'s forward on quantized copies of each layer',
  taylor: 'Taylor importance needs gradients of LayerLab\'s own forward',
  fisher: 'Fisher importance needs weight gradients of LayerLab\'s own forward',
  zo: 'the zeroth-order gradient estimate perturbs LayerLab\'s own forward',
};

export const isOnnx = (info: ModelInfo | null | undefined): boolean => info?.format === 'onnx';

/** Why metric group `id` is not available for the loaded model (an ONNX model), or null when it is. */
export function onnxMetricBlocked(info: ModelInfo | null | undefined, id: string): string | null {
  if (!info || !isOnnx(info)) return null;
  if (id === 'lens' && info.meta['onnx.unembedding'] === 'none') {
    return 'not for this ONNX model: the graph analysis found no unembedding matmul with a constant weight after the final norm';
  }
  const needs = info.features?.needsNativeFile ?? Object.keys(NATIVE_ONLY);
  if (NATIVE_ONLY[id] && needs.includes(id)) return `not for ONNX models: ${NATIVE_ONLY[id]}; open the model as a GGUF or safetensors file`;
  return null;
}

/** The allocation knobs as they apply to an ONNX model (rewritten initializers, src/onnx/session.ts). */
export const ONNX_ALLOCATION_NOTE =
  'ONNX model: allocations apply by rewriting the graph\'s initializers: weight formats as quantize-dequantize ' +
  '(float32 values, so the file and memory do not shrink; the size shown is the format\'s), SVD ranks as the dense ' +
  'rank-r product, sparsity masks as zeros, and block / attention / MLP drops by zeroing the sublayer\'s output ' +
  'projection. KV-cache bits are not applied (onnxruntime keeps its own cache), and the GGUF export needs a GGUF file.';
