// What every loader returns: a ModelSpec, the weights under canonical GGUF-style names, and the
// model's tokenizer. Weights stay in their stored type (raw bytes); quantized types are not expanded.

import type { ModelSpec } from '../model/spec.ts';
import type { GGMLType } from '../quant/types.ts';
import type { Tokenizer } from './tokenizer.ts';

/**
 * One weight tensor. `shape` is row-major in PyTorch order: a linear layer's weight is
 * [out, in] (rows = output features, each row of `in` values stored contiguously: the GGUF layout,
 * where ggml's ne = [in, out]). Vectors are [n]. `data` holds `rows * rowBytes(type, cols)` bytes.
 */
export interface WeightTensor {
  name: string;
  type: GGMLType;
  shape: number[];
  data: Uint8Array;
}

export interface LoadedModel {
  spec: ModelSpec;
  /** Canonical names: token_embd, position_embd, blk.N.attn_norm(.bias), blk.N.attn_q|k|v(.bias),
   *  blk.N.attn_qkv(.bias), blk.N.attn_output(.bias), blk.N.ffn_norm(.bias), blk.N.ffn_gate|up|down(.bias),
   *  output_norm(.bias), output. Weight names carry no ".weight" suffix; biases end in ".bias". */
  tensors: Map<string, WeightTensor>;
  tokenizer: Tokenizer;
  /** 'gguf' | 'llama2c' | 'safetensors' | 'onnx' */
  format: string;
  /** Free-form facts for `info` (file size, GGUF version, file type, metadata highlights). */
  meta: Record<string, string | number | boolean>;
}
