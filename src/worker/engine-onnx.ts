// The worker's `exportOnnx`: the loaded model written as an ONNX graph (src/onnx/export.ts, the code of
// `layerlab export-onnx`: opset 17, input_ids int64 [1, T] -> logits [1, T, V]; optional hidden.*
// residual-stream outputs, MatMulNBits 4-bit linears, past/present KV-cache tensors), returned as bytes
// the page downloads. The bytes are transferred to the page (comlink transfer), not copied.
//
// Refused with a plain reason: a model that is itself ONNX (LayerLab's exporter reads GGUF, safetensors
// and llama2.c weights, not another graph), and a model whose export would not fit one ONNX file
// (protobuf's 2 GiB message limit, MAX_INLINE_BYTES) or the page's memory (PAGE_EXPORT_MAX_BYTES).
import * as Comlink from 'comlink';
import type { LoadedModel } from '../core/formats/types.ts';
import { numel } from '../core/tensor.ts';

export interface OnnxExportRequest {
  /** Add hidden.-1, hidden.<l>.mid and hidden.<l> outputs (the residual stream, [1, T, C]). */
  residualOutputs?: boolean;
  /** The blocks' linear weights as com.microsoft MatMulNBits (4 bits, block 32); onnxruntime only. */
  weights4bit?: boolean;
  /** past_key/value.<l> inputs and present_key/value.<l> outputs ([Hkv, P, D]). */
  kvCache?: boolean;
}

export interface OnnxExportResponse {
  /** The .onnx file (transferred). */
  bytes: Uint8Array;
  /** A file name for the download: <model>[-resid][-q4][-kv].onnx. */
  fileName: string;
  opset: number;
  /** Graph outputs: logits, then hidden.* (and present_* with kvCache). */
  outputs: string[];
  /** Linear weights by how they were written (float32 | q4-repacked | q4-quantized) -> count. */
  linears: Record<string, number>;
  /** Linear weights that stayed float32 with 4-bit asked for, and why. */
  float32Linears: { name: string; why?: string }[];
}

/** The largest export the page builds in the worker's memory (the protobuf is built whole, then copied once). */
export const PAGE_EXPORT_MAX_BYTES = 1536 * 2 ** 20;

const LINEAR = /^blk\.\d+\.(attn_q|attn_k|attn_v|attn_qkv|attn_output|ffn_gate|ffn_up|ffn_down)$/;

/** Upper estimate of the export's size: float32 for every tensor, 4.5 bits per linear weight with weights4bit. */
export function estimateOnnxBytes(model: LoadedModel, weights4bit = false): number {
  let bytes = 0;
  for (const t of model.tensors.values()) {
    const n = numel(t.shape);
    bytes += weights4bit && LINEAR.test(t.name) && t.shape.length === 2 && t.shape[1] % 32 === 0 ? n * 0.5625 : n * 4;
  }
  const s = model.spec;
  if (s.rope.kind !== 'none') bytes += 2 * s.contextLength * (s.rope.dim / 2) * 4; // cos / sin tables
  return bytes;
}

const slug = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'model';

/** Why the loaded model cannot be exported from the page, or null when it can. */
export function onnxExportRefusal(model: LoadedModel, weights4bit = false): string | null {
  if (model.format === 'onnx') {
    return 'the loaded model is already an ONNX graph: LayerLab exports ONNX from GGUF, safetensors or llama2.c weights (download the original .onnx file instead)';
  }
  const est = estimateOnnxBytes(model, weights4bit);
  if (est > PAGE_EXPORT_MAX_BYTES) {
    const mib = (b: number) => `${Math.round(b / 2 ** 20).toLocaleString('en-US')} MiB`;
    return `the ONNX file would be about ${mib(est)}, more than the page builds in memory (${mib(PAGE_EXPORT_MAX_BYTES)})${weights4bit ? '' : ': try 4-bit weights,'} or run \`layerlab export-onnx\` in Node (one file holds at most 2 GiB)`;
  }
  return null;
}

/** Export `model` as ONNX; the result's bytes are marked for transfer to the page. */
export async function exportOnnxOf(model: LoadedModel, req: OnnxExportRequest = {}): Promise<OnnxExportResponse> {
  const refusal = onnxExportRefusal(model, req.weights4bit === true);
  if (refusal) throw new Error(`ONNX export refused: ${refusal}`);
  const { exportOnnx, EXPORT_OPSET } = await import('../onnx/export.ts');
  const ex = exportOnnx(model, { residualOutputs: req.residualOutputs === true, weights4bit: req.weights4bit === true, kvCache: req.kvCache === true });
  // A view into a larger (pooled) buffer would transfer, or detach, more than the file: copy it then.
  const bytes = ex.bytes.byteOffset === 0 && ex.bytes.byteLength === ex.bytes.buffer.byteLength ? ex.bytes : ex.bytes.slice();
  const linears: Record<string, number> = {};
  for (const l of ex.linears) linears[l.as] = (linears[l.as] ?? 0) + 1;
  const suffix = `${req.residualOutputs ? '-resid' : ''}${req.weights4bit ? '-q4' : ''}${req.kvCache ? '-kv' : ''}`;
  const out: OnnxExportResponse = {
    bytes,
    fileName: `${slug(model.spec.name)}${suffix}.onnx`,
    opset: EXPORT_OPSET,
    outputs: ex.outputs,
    linears,
    float32Linears: req.weights4bit ? ex.linears.filter((l) => l.as === 'float32').map((l) => ({ name: l.name, ...(l.why ? { why: l.why } : {}) })) : [],
  };
  return Comlink.transfer(out, [bytes.buffer as ArrayBuffer]);
}
