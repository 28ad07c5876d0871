// The scan-based score builders (src/core/analysis/scans.ts) with the float64 CPU scanners equal the
// metric modules they replace (metrics/cos.ts, lim.ts, contrib.ts, cka.ts, weights.ts, zd.ts: separate
// implementations that loop over the taps / weights directly). Random taps with a zero row (cos = 1,
// contrib NaN), exactly repeated rows, several blocks; weights with heavy tails, a constant matrix
// (kurtosis NaN, ZD 0), Wanda norms. Tolerance 1e-12 relative (both float64, different summation order).
import { describe, expect, it } from 'vitest';
import { randn, mulberry32 } from '../../src/core/tensor.ts';
import { tapName, type WeightMatrix } from '../../src/core/metrics/types.ts';
import * as cos from '../../src/core/metrics/cos.ts';
import * as lim from '../../src/core/metrics/lim.ts';
import * as contrib from '../../src/core/metrics/contrib.ts';
import * as cka from '../../src/core/metrics/cka.ts';
import * as zd from '../../src/core/metrics/zd.ts';
import * as weights from '../../src/core/metrics/weights.ts';
import {
  ckaFromScan,
  contribFromSums,
  cosFromSums,
  cpuActivationScanner,
  cpuWeightScanner,
  limFromSums,
  scanWeightStats,
  zdFromScan,
} from '../../src/core/analysis/scans.ts';
import { expectScoresClose } from '../helpers/scores-close.ts';

const tol = { atol: 1e-12, rtol: 1e-10 };

function randomTaps(L: number, T: number, C: number, seed: number): Record<string, Float32Array> {
  const taps: Record<string, Float32Array> = {};
  let h = randn(T * C, seed);
  for (let t = 0; t < C; t++) h[2 * C + t] = 0; // a zero residual row (token 2)
  for (let l = 0; l < L; l++) {
    const att = randn(T * C, seed + 10 * l + 1, 0.3);
    const mid = Float32Array.from(h, (v, i) => v + att[i]);
    const mlp = randn(T * C, seed + 10 * l + 2, 0.5);
    if (l === 1) mlp.fill(0); // a no-op MLP: cos(mid, out) = 1
    const out = Float32Array.from(mid, (v, i) => v + mlp[i]);
    for (let t = 0; t < C; t++) out[2 * C + t] = 0; // token 2 stays zero in every block
    taps[tapName(l, 'in')] = h;
    taps[tapName(l, 'attn_out')] = att;
    taps[tapName(l, 'mid')] = mid;
    taps[tapName(l, 'mlp_out')] = mlp;
    taps[tapName(l, 'out')] = out;
    h = out;
  }
  return taps;
}

describe('scan-based scores equal the metric modules (CPU scanners)', () => {
  for (const [L, T, C] of [
    [3, 5, 7],
    [2, 11, 4],
  ]) {
    it(`cos, lim, contrib, cka from the scans: L=${L} T=${T} C=${C} (${T <= C ? 'Gram' : 'feature'} form)`, async () => {
      const taps = randomTaps(L, T, C, 7 * L + T);
      const ctx = { taps, T, C, nLayers: L };
      const r = await cpuActivationScanner.scan({ ...ctx, tokens: true, cka: true });
      expectScoresClose(cosFromSums(r.tokenSums!, L, T, taps), cos.compute(ctx), tol, 'cos');
      expectScoresClose(limFromSums(r.tokenSums!, L, T, taps), lim.compute(ctx), tol, 'lim');
      const c = contribFromSums(r.tokenSums!, L, T, taps);
      expect(c.perToken![0][2]).toBeNaN();
      expectScoresClose(c, contrib.compute(ctx), tol, 'contrib');
      expectScoresClose(ckaFromScan(r.cka!), cka.compute(ctx), tol, 'cka');
    });
  }

  it('a missing tap is an error naming it', () => {
    const taps = randomTaps(2, 3, 4, 1);
    delete taps['blk.1.mid'];
    expect(() => cosFromSums(new Float64Array(2 * 3 * 9), 2, 3, taps)).toThrow(/blk\.1\.mid/);
  });

  it('weight statistics and ZD from the three passes', async () => {
    const rnd = mulberry32(5);
    const mat = (rows: number, cols: number, seed: number, heavy = false): WeightMatrix => {
      const d = randn(rows * cols, seed, 0.1);
      if (heavy) for (let i = 0; i < d.length; i += 17) d[i] *= 20 * (1 + rnd());
      return { data: d, rows, cols };
    };
    const C = 6;
    const F = 9;
    const W = new Map<string, WeightMatrix>();
    for (let l = 0; l < 3; l++) {
      for (const s of ['attn_q', 'attn_k', 'attn_v', 'attn_output']) W.set(`blk.${l}.${s}`, mat(C, C, 100 * l + s.length, l === 1));
      W.set(`blk.${l}.ffn_gate`, mat(F, C, 100 * l + 50));
      W.set(`blk.${l}.ffn_up`, mat(F, C, 100 * l + 51, true));
      W.set(`blk.${l}.ffn_down`, mat(C, F, 100 * l + 52));
    }
    W.set('blk.2.attn_k', { data: new Float32Array(C * C).fill(0.25), rows: C, cols: C }); // constant
    const norms = (name: string) => {
      const w = W.get(name);
      return w ? Float32Array.from(randn(w.cols, name.length + w.rows), (v) => Math.abs(v) + 0.1) : undefined;
    };
    for (const withNorms of [true, false]) {
      const ctx = { nLayers: 3, weight: W, inputNorms: withNorms ? norms : undefined, outlierK: 3, owlM: 4 };
      const { stats, zd: z } = await scanWeightStats(ctx, cpuWeightScanner);
      const want = weights.weightStats(ctx);
      for (const stat of ['fro', 'kurtosis', 'outliers', 'owl', 'erank'] as const) {
        expectScoresClose(weights.compute(ctx, stat, stats), weights.compute(ctx, stat, want), tol, `${stat} (norms ${withNorms})`);
      }
      expect(Number.isNaN(stats.perTensor['blk.2.attn_k'].kurtosis)).toBe(true);
      expect(stats.perLayer.owl.every(Number.isNaN)).toBe(!withNorms);
      const zz = zdFromScan(z);
      expect(zz.perTensor!['blk.2.attn_k']).toBe(0);
      expectScoresClose(zz, zd.compute(ctx), tol, 'zd');
    }
  });
});
