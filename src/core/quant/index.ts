// GGUF block formats on the CPU: dequantize / quantize bit-exact with ggml, plus type geometry.
export * from './types.ts';
export { dequantize, dequantizeInto, dequantizeRows, canDequantize, KVALUES_IQ4NL } from './dequant.ts';
export { f16ToF32, f32ToF16, bf16ToF32, f32ToBf16, roundF16 } from './half.ts';
export { quantize, canQuantize } from './quantize.ts';
