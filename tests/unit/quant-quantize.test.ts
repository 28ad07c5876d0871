// Quantization against the byte-exact vectors in refs/gguf-quant-vectors: quant/ (gguf-py's quantizer,
// byte-identical to ggml's C one on all these rows) and quant-ggml-c/ (ggml's C reference quantizer for the
// K-quants and IQ4 types). Output bytes must be identical; the dequantized bytes must match too.
import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { readRef, refsDir } from '../helpers/models.ts';
import { GGMLType } from '../../src/core/quant/types.ts';
import { canQuantize, dequantize, quantize } from '../../src/core/quant/index.ts';

interface QuantRow {
  label: string;
  input: number[];
  expected_bytes_hex: string;
  dequantized: number[];
}
interface QuantVector {
  type: string;
  ggml_type_id: number;
  n_per_row: number;
  rows: QuantRow[];
}
interface DivergenceCase {
  type: string;
  input: number[];
  gguf_py_bytes_hex: string;
  ggml_c_bytes_hex: string;
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function bits(v: ArrayLike<number>): number[] {
  return Array.from(new Uint32Array(Float32Array.from(v).buffer));
}

const REQUIRED = ['F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K'];

for (const dir of ['quant', 'quant-ggml-c']) {
  const files = readdirSync(resolve(refsDir, 'gguf-quant-vectors', dir)).filter(
    (f) => f.endsWith('.json') && f !== 'fma_rounding_divergence.json',
  );
  describe(`quantize: ${dir} vectors (identical bytes)`, () => {
    for (const f of files) {
      const v = readRef<QuantVector>(`gguf-quant-vectors/${dir}/${f}`);
      const type = v.ggml_type_id as GGMLType;
      const ok = canQuantize(type);
      if (!ok && REQUIRED.includes(v.type)) {
        it(`${v.type} is supported`, () => expect(ok).toBe(true));
        continue;
      }
      describe.skipIf(!ok)(`${v.type}${ok ? '' : ' (not implemented: skipped)'}`, () => {
        for (const row of v.rows) {
          it(row.label, () => {
            const got = quantize(type, Float32Array.from(row.input));
            expect(hex(got)).toBe(row.expected_bytes_hex);
            expect(bits(dequantize(type, got, row.input.length))).toEqual(bits(row.dequantized));
          });
        }
        it('all 8 rows in one call (multi-row input)', () => {
          const all = Float32Array.from(v.rows.flatMap((r) => r.input));
          expect(hex(quantize(type, all))).toBe(v.rows.map((r) => r.expected_bytes_hex).join(''));
        });
      });
    }
  });
}

describe('quantize: FMA / float64 rounding divergence (README "Rounding")', () => {
  const div = readRef<{ cases: DivergenceCase[] }>('gguf-quant-vectors/quant/fma_rounding_divergence.json');
  for (const c of div.cases) {
    it(`${c.type}: follows ggml's x86-64 float32 rounding, not gguf-py's float64`, () => {
      const type = GGMLType[c.type as keyof typeof GGMLType];
      const got = hex(quantize(type, Float32Array.from(c.input)));
      expect(got).toBe(c.ggml_c_bytes_hex);
      expect(got).not.toBe(c.gguf_py_bytes_hex);
    });
  }
});

describe('quantize: errors', () => {
  it('rejects unsupported types by name and partial blocks', () => {
    expect(() => quantize(GGMLType.IQ2_XXS, new Float32Array(256))).toThrow(/IQ2_XXS/);
    expect(() => quantize(GGMLType.Q8_0, new Float32Array(33))).toThrow(/multiple of the block size 32/);
    expect(() => quantize(GGMLType.Q4_K, new Float32Array(128))).toThrow(/256/);
  });
});
