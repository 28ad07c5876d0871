// Parity of the analysis scan kernels with their float64 CPU references (src/core/analysis/scans.ts):
// shaders/scan-tokens.wgsl (per-token sums, `main` and barrier-free `simple`), shaders/scan-weights.wgsl
// (the three weight passes, both entries, with and without Wanda norms, a matrix split by rows) and
// shaders/scan-cka.wgsl (centring, row dots) through GpuAnalysisScanner's CKA in the Gram (T <= C) and
// feature (T > C) forms. Shapes 1, primes and sizes that are not multiples of the workgroups.
// Tolerances: sums rtol 2e-6 + atol 1e-6 * scale (f32 accumulation of <= a few thousand terms);
// counts exact except a value within f32 rounding of its threshold (none in these seeds: atol 0);
// CKA atol 2e-6 (a ratio of f32 Gram sums in [0, 1]).
import { describe, expect, it } from 'vitest';
import { randn } from '../../src/core/tensor.ts';
import { tapName } from '../../src/core/metrics/types.ts';
import { cpuActivationScanner, cpuWeightScanner, tokenSumsCpu, TOKEN_SUMS, WEIGHT_SUMS } from '../../src/core/analysis/scans.ts';
import { encodeScanTokens } from '../../src/gpu/kernels/scan-tokens.ts';
import { GpuAnalysisScanner } from '../../src/gpu/analysis-scans.ts';
import { expectAllClose } from '../helpers/close.ts';
import { expectClosish } from '../helpers/scores-close.ts';
import { skipGpu } from '../helpers/gpu.ts';
import { runPass, testContext } from './harness.ts';

describe.skipIf(skipGpu)('scan-tokens kernel', () => {
  for (const simple of [false, true]) {
    for (const [T, C] of [[1, 1], [3, 7], [5, 131]]) {
      it(`${simple ? 'simple' : 'main'} T=${T} C=${C}, all taps and without mid/attn/mlp`, async () => {
        const ctx = await testContext();
        const names = ['in', 'attn_out', 'mid', 'mlp_out', 'out'] as const;
        const taps: Record<string, Float32Array> = {};
        names.forEach((n, i) => (taps[tapName(0, n)] = randn(T * C, 10 * T + C + i, 1 + i)));
        taps[tapName(0, 'out')] = Float32Array.from(taps[tapName(0, 'in')], (v, i) => v + 0.01 * taps[tapName(0, 'mlp_out')][i]);
        const b = Object.fromEntries(Object.entries(taps).map(([k, v]) => [k, ctx.storage(v)]));
        const out = ctx.storage(2 * T * TOKEN_SUMS * 4);
        await runPass(ctx, (pass) => {
          encodeScanTokens(ctx, pass, { hin: b['blk.0.in'], hout: b['blk.0.out'], mid: b['blk.0.mid'], attnOut: b['blk.0.attn_out'], mlpOut: b['blk.0.mlp_out'], out, T, C, simple });
          encodeScanTokens(ctx, pass, { hin: b['blk.0.in'], hout: b['blk.0.out'], out, T, C, outOffset: T * TOKEN_SUMS, simple });
        });
        const got = await ctx.readF32(out, 2 * T * TOKEN_SUMS);
        const want = tokenSumsCpu(taps, 1, T, C);
        const scale = 16 * C;
        expectAllClose(got.subarray(0, T * TOKEN_SUMS), want, { atol: 1e-6 * scale, rtol: 2e-6 }, 'all taps');
        const part = tokenSumsCpu({ 'blk.0.in': taps['blk.0.in'], 'blk.0.out': taps['blk.0.out'] }, 1, T, C);
        expectAllClose(got.subarray(T * TOKEN_SUMS), part, { atol: 1e-6 * scale, rtol: 2e-6 }, 'in/out only');
      });
    }
  }
});

describe.skipIf(skipGpu)('scan-weights kernel (three passes)', () => {
  for (const simple of [false, true]) {
    it(`${simple ? 'simple' : 'main'}: sums, max, counts per matrix; norms; split by rows`, async () => {
      const ctx = await testContext();
      const heavy = randn(67 * 131, 3, 0.05);
      for (let i = 0; i < heavy.length; i += 13) heavy[i] *= 25;
      const mats = [
        { name: 'a', w: { data: randn(1, 1), rows: 1, cols: 1 } },
        { name: 'b', w: { data: heavy, rows: 67, cols: 131 }, norms: Float32Array.from(randn(131, 9), (v) => Math.abs(v) + 0.2) },
        { name: 'c', w: { data: randn(5000, 4, 0.1), rows: 1000, cols: 5 } },
      ];
      // 2 KiB bindings: 'b' (524 B rows) and 'c' split into several pieces.
      const gpu = await new GpuAnalysisScanner(ctx, { simple, maxBindingBytes: 2048 }).load(mats);
      const cpu = await cpuWeightScanner.load(mats);
      const params: Float64Array[] = [
        new Float64Array(3 * WEIGHT_SUMS),
        Float64Array.from({ length: 3 * WEIGHT_SUMS }, (_, i) => [0.01, -0.02, 0.3, 0.25, 0.05, 0, 0, 0][i % 8]),
        Float64Array.from({ length: 3 * WEIGHT_SUMS }, (_, i) => [0.01, 0.08, -0.02, 0.3, 0, 0, 0, 0][i % 8]),
      ];
      for (const pass of [0, 1, 2] as const) {
        const g = await gpu.reduce(pass, params[pass]);
        const c = await cpu.reduce(pass, params[pass]);
        const sums = pass === 0 ? [0, 1, 2, 3, 4] : pass === 1 ? [0, 1, 2, 3] : [];
        const counts = pass === 1 ? [4, 5, 6] : pass === 2 ? [0, 1] : [];
        for (let m = 0; m < 3; m++) {
          const at = (a: Float64Array, ks: number[]) => ks.map((k) => a[m * WEIGHT_SUMS + k]);
          const scale = Math.max(...at(c, sums).map(Math.abs), 1e-30);
          expectAllClose(at(g, sums), at(c, sums), { atol: 1e-6 * scale, rtol: 2e-6 }, `pass ${pass} matrix ${m} sums`);
          expectAllClose(at(g, counts), at(c, counts), { atol: 0, rtol: 0 }, `pass ${pass} matrix ${m} counts`);
        }
        if (pass === 1) expect(g[WEIGHT_SUMS + 6]).toBeGreaterThan(0);
      }
      gpu.dispose();
    });
  }
});

describe.skipIf(skipGpu)('CKA on the GPU (centre + matmul + row dots)', () => {
  for (const simple of [false, true]) {
    for (const [L, T, C] of [[3, 6, 17], [2, 1, 5], [2, 23, 5]]) {
      it(`${simple ? 'simple' : 'auto'} L=${L} T=${T} C=${C} (${T <= C ? 'Gram' : 'feature'} form)`, async () => {
        const ctx = await testContext();
        const taps: Record<string, Float32Array> = {};
        let h = randn(T * C, L + T + C);
        for (let i = 0; i < h.length; i += C) h[i] += 5; // a common offset that centring removes
        for (let l = 0; l < L; l++) {
          const o = Float32Array.from(h, (v, i) => v + 0.5 * Math.tanh(3 * v) + 0.1 * ((i * 7919) % 13));
          taps[tapName(l, 'in')] = h;
          taps[tapName(l, 'out')] = o;
          h = o;
        }
        const req = { taps, nLayers: L, T, C, tokens: false, cka: true };
        const g = await new GpuAnalysisScanner(ctx, { simple }).scan(req);
        const c = await cpuActivationScanner.scan(req);
        expectClosish(g.cka!.inOut, c.cka!.inOut, { atol: 2e-6, rtol: 0 }, 'CKA(in, out)');
        expectClosish(g.cka!.matrix.flat(), c.cka!.matrix.flat(), { atol: 2e-6, rtol: 0 }, 'CKA matrix');
        if (T === 1) expect(g.cka!.inOut.every(Number.isNaN)).toBe(true);
      });
    }
  }

  it('taps larger than a binding: token rows scanned in pieces, CKA declined', async () => {
    const ctx = await testContext();
    const [L, T, C] = [2, 7, 5];
    const taps: Record<string, Float32Array> = {};
    for (let l = 0; l < L; l++) for (const p of ['in', 'attn_out', 'mid', 'mlp_out', 'out'] as const) taps[tapName(l, p)] = randn(T * C, 3 * l + p.length);
    // 48-byte bindings: two token rows of 5 channels per upload (4 pieces per block).
    const r = await new GpuAnalysisScanner(ctx, { maxBindingBytes: 48 }).scan({ taps, nLayers: L, T, C, tokens: true, cka: true });
    expect(r.cka).toBeNull();
    expectAllClose(r.tokenSums!, tokenSumsCpu(taps, L, T, C), { atol: 1e-5, rtol: 2e-6 }, 'token sums in pieces');
  });

  it('declines CKA above maxCkaBytes (the CPU computes it) and still returns the token sums', async () => {
    const ctx = await testContext();
    const taps = { 'blk.0.in': randn(12, 1), 'blk.0.out': randn(12, 2) };
    const r = await new GpuAnalysisScanner(ctx, { maxCkaBytes: 16 }).scan({ taps, nLayers: 1, T: 3, C: 4, tokens: true, cka: true });
    expect(r.cka).toBeNull();
    expectAllClose(r.tokenSums!, tokenSumsCpu(taps, 1, 3, 4), { atol: 1e-5, rtol: 2e-6 }, 'token sums');
  });
});
