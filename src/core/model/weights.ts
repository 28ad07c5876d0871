// f32 views of a loaded model's weights for the CPU reference backend (dequantized once, cached).
// The GPU backend never does this: it keeps quantized weights packed (see gpu/weights.ts).

import type { LoadedModel, WeightTensor } from '../formats/types.ts';
import { dequantize } from '../quant/dequant.ts';
import { GGMLType } from '../quant/types.ts';
import { numel } from '../tensor.ts';

export function tensorToF32(t: WeightTensor): Float32Array {
  const n = numel(t.shape);
  if (t.type === GGMLType.F32 && t.data.byteOffset % 4 === 0) {
    return new Float32Array(t.data.buffer, t.data.byteOffset, n);
  }
  return dequantize(t.type, t.data, n);
}

export class F32Weights {
  private cache = new Map<string, Float32Array>();
  constructor(private model: LoadedModel) {}

  has(name: string): boolean {
    return this.model.tensors.has(name);
  }

  get(name: string): Float32Array {
    let w = this.cache.get(name);
    if (!w) {
      const t = this.model.tensors.get(name);
      if (!t) throw new Error(`model has no tensor ${name}`);
      w = tensorToF32(t);
      this.cache.set(name, w);
    }
    return w;
  }

  opt(name: string): Float32Array | undefined {
    return this.has(name) ? this.get(name) : undefined;
  }

  bytes(): number {
    let b = 0;
    for (const w of this.cache.values()) b += w.byteLength;
    return b;
  }
}
