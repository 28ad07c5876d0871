// `layerlab export-onnx --model PATH --out FILE [--residual-outputs] [--weights 4bit|f32] [--kv-cache]`:
// write the model as an ONNX graph (src/onnx/export.ts: opset 17, input_ids int64 [1, T] -> logits
// [1, T, V]; optional hidden.* residual outputs; optional com.microsoft MatMulNBits 4-bit linears;
// optional past_key/value.<l> -> present_key/value.<l> KV-cache inputs and outputs).
// The model is loaded on the CPU side only (no GPU device is needed to export).
import { writeFileSync } from 'node:fs';
import { loadModelFromFiles } from '../core/formats/load.ts';
import { exportOnnx } from '../onnx/export.ts';
import type { NamedBytes } from './files.ts';

export interface ExportOnnxRequest {
  files: NamedBytes[];
  out: string;
  residualOutputs?: boolean;
  kvCache?: boolean;
  /** 'f32' (default) or '4bit'. */
  weights?: string;
  contextLength?: number;
}

export interface ExportOnnxSummary {
  out: string;
  bytes: number;
  opset: number;
  inputs: string[];
  outputs: string[];
  weights: 'f32' | '4bit';
  /** Linear weights by how they were written: float32 (Gemm), q4-repacked (Q4_0 codes kept), q4-quantized. */
  linears: Record<string, number>;
  /** Linear weights that stayed float32 under --weights 4bit, with the reason. */
  float32Linears: { name: string; why?: string }[];
  /** past_key/value.<l> inputs and present_key/value.<l> outputs ([Hkv, P, D]). */
  kvCache: boolean;
}

export class ExportOnnxUsageError extends Error {}

export function exportOnnxCommand(req: ExportOnnxRequest): { human: string; data: ExportOnnxSummary } {
  const weights = req.weights ?? 'f32';
  if (weights !== 'f32' && weights !== '4bit') throw new ExportOnnxUsageError(`--weights must be 4bit or f32, got "${weights}"`);
  if (req.files.some((f) => f.name.endsWith('.onnx'))) throw new ExportOnnxUsageError('export-onnx takes a GGUF, safetensors or llama2.c model; the input is already ONNX');
  const model = loadModelFromFiles(req.files, { contextLength: req.contextLength });
  const ex = exportOnnx(model, { residualOutputs: req.residualOutputs === true, weights4bit: weights === '4bit', kvCache: req.kvCache === true });
  writeFileSync(req.out, ex.bytes);
  const linears: Record<string, number> = {};
  for (const l of ex.linears) linears[l.as] = (linears[l.as] ?? 0) + 1;
  const float32Linears = weights === '4bit' ? ex.linears.filter((l) => l.as === 'float32').map((l) => ({ name: l.name, why: l.why })) : [];
  const data: ExportOnnxSummary = {
    out: req.out,
    bytes: ex.bytes.length,
    opset: 17,
    inputs: ['input_ids'],
    outputs: ex.outputs,
    weights,
    linears,
    float32Linears,
    kvCache: req.kvCache === true,
  };
  const human = [
    `wrote ${req.out} (${ex.bytes.length.toLocaleString('en-US')} bytes): ONNX opset 17, ${model.spec.arch} ${model.spec.name}, ${model.spec.nLayers} layers`,
    `inputs: input_ids int64 [1, T]${req.kvCache ? ', past_key/value.<l> [Hkv, P, D]' : ''}; outputs: ${ex.outputs.length > 4 ? `${ex.outputs.slice(0, 3).join(', ')}, ... (${ex.outputs.length})` : ex.outputs.join(', ')}`,
    `linear weights: ${Object.entries(linears).map(([k, v]) => `${k} x${v}`).join(', ')}`,
    ...float32Linears.map((l) => `  kept float32: ${l.name}${l.why ? ` (${l.why})` : ''}`),
    req.kvCache ? 'KV cache: feed present_key/value.<l> back as past_key/value.<l> (empty [Hkv, 0, D] on the first call)' : 'full-sequence graph (no KV-cache inputs): each call runs all T positions',
  ].join('\n');
  return { human, data };
}
