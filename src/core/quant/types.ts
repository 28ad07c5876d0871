// GGML tensor types (ids as in ggml.h / the GGUF spec) and their block geometry.
// A row of `n` values of a block type takes n / blockSize blocks of `typeSize` bytes each.

export enum GGMLType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
}

export interface TypeInfo {
  name: string;
  blockSize: number;
  typeSize: number;
}

export const TYPE_INFO: Partial<Record<GGMLType, TypeInfo>> = {
  [GGMLType.F32]: { name: 'F32', blockSize: 1, typeSize: 4 },
  [GGMLType.F16]: { name: 'F16', blockSize: 1, typeSize: 2 },
  [GGMLType.BF16]: { name: 'BF16', blockSize: 1, typeSize: 2 },
  [GGMLType.Q4_0]: { name: 'Q4_0', blockSize: 32, typeSize: 18 },
  [GGMLType.Q4_1]: { name: 'Q4_1', blockSize: 32, typeSize: 20 },
  [GGMLType.Q5_0]: { name: 'Q5_0', blockSize: 32, typeSize: 22 },
  [GGMLType.Q5_1]: { name: 'Q5_1', blockSize: 32, typeSize: 24 },
  [GGMLType.Q8_0]: { name: 'Q8_0', blockSize: 32, typeSize: 34 },
  [GGMLType.Q2_K]: { name: 'Q2_K', blockSize: 256, typeSize: 84 },
  [GGMLType.Q3_K]: { name: 'Q3_K', blockSize: 256, typeSize: 110 },
  [GGMLType.Q4_K]: { name: 'Q4_K', blockSize: 256, typeSize: 144 },
  [GGMLType.Q5_K]: { name: 'Q5_K', blockSize: 256, typeSize: 176 },
  [GGMLType.Q6_K]: { name: 'Q6_K', blockSize: 256, typeSize: 210 },
  [GGMLType.Q8_K]: { name: 'Q8_K', blockSize: 256, typeSize: 292 },
  [GGMLType.Q8_1]: { name: 'Q8_1', blockSize: 32, typeSize: 36 },
  [GGMLType.IQ2_XXS]: { name: 'IQ2_XXS', blockSize: 256, typeSize: 66 },
  [GGMLType.IQ2_XS]: { name: 'IQ2_XS', blockSize: 256, typeSize: 74 },
  [GGMLType.IQ2_S]: { name: 'IQ2_S', blockSize: 256, typeSize: 82 },
  [GGMLType.IQ3_XXS]: { name: 'IQ3_XXS', blockSize: 256, typeSize: 98 },
  [GGMLType.IQ3_S]: { name: 'IQ3_S', blockSize: 256, typeSize: 110 },
  [GGMLType.IQ1_S]: { name: 'IQ1_S', blockSize: 256, typeSize: 50 },
  [GGMLType.IQ1_M]: { name: 'IQ1_M', blockSize: 256, typeSize: 56 },
  [GGMLType.IQ4_NL]: { name: 'IQ4_NL', blockSize: 32, typeSize: 18 },
  [GGMLType.IQ4_XS]: { name: 'IQ4_XS', blockSize: 256, typeSize: 136 },
  [GGMLType.TQ1_0]: { name: 'TQ1_0', blockSize: 256, typeSize: 54 },
  [GGMLType.TQ2_0]: { name: 'TQ2_0', blockSize: 256, typeSize: 66 },
  [GGMLType.I8]: { name: 'I8', blockSize: 1, typeSize: 1 },
  [GGMLType.I16]: { name: 'I16', blockSize: 1, typeSize: 2 },
  [GGMLType.I32]: { name: 'I32', blockSize: 1, typeSize: 4 },
  [GGMLType.I64]: { name: 'I64', blockSize: 1, typeSize: 8 },
  [GGMLType.F64]: { name: 'F64', blockSize: 1, typeSize: 8 },
};

/** Types the engine can hold on the GPU and multiply (the list). */
export const ENGINE_TYPES: GGMLType[] = [
  GGMLType.F32, GGMLType.F16, GGMLType.BF16, GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.Q4_1,
  GGMLType.Q5_0, GGMLType.Q5_1, GGMLType.Q2_K, GGMLType.Q3_K, GGMLType.Q4_K, GGMLType.Q5_K, GGMLType.Q6_K,
];

export function typeName(t: number): string {
  return TYPE_INFO[t as GGMLType]?.name ?? (GGMLType[t] ?? `unknown type ${t}`);
}

/** Bytes taken by `n` values of type `t` (n must be a multiple of the block size). */
export function rowBytes(t: GGMLType, n: number): number {
  const info = TYPE_INFO[t];
  if (!info) throw new Error(`unsupported tensor type ${typeName(t)}`);
  if (n % info.blockSize !== 0) {
    throw new Error(`${info.name}: row length ${n} is not a multiple of the block size ${info.blockSize}`);
  }
  return (n / info.blockSize) * info.typeSize;
}

function infoOf(t: GGMLType): TypeInfo {
  const info = TYPE_INFO[t];
  if (!info) throw new Error(`unsupported tensor type ${typeName(t)}`);
  return info;
}

/** Values per block (1 for plain element types). */
export function blockSize(t: GGMLType): number {
  return infoOf(t).blockSize;
}

/** Bytes per block. */
export function blockBytes(t: GGMLType): number {
  return infoOf(t).typeSize;
}

/** Storage cost in bits per weight, block scales included (Q4_0: 4.5, Q4_K: 4.5, Q6_K: 6.5625). */
export function bitsPerWeight(t: GGMLType): number {
  const info = infoOf(t);
  return (info.typeSize * 8) / info.blockSize;
}
