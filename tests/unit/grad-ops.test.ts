// Backward of every op of the forward (src/core/grad/ops) against central finite differences in float64:
// for a random upstream gradient dy, the scalar F = <dy, op(inputs)> is differentiated numerically w.r.t.
// each input entry and compared with what the op's backward returns. The f64 forwards are also checked
// against the f32 reference ops of src/core/ops (an independent implementation of the same formulas).
import { describe, expect, it } from 'vitest';
import { linearBackward, linearF64 } from '../../src/core/grad/ops/linear.ts';
import { rmsNormBackward, rmsNormF64 } from '../../src/core/grad/ops/rms-norm.ts';
import { layerNormBackward, layerNormF64 } from '../../src/core/grad/ops/layer-norm.ts';
import { ropeBackward, ropeF64 } from '../../src/core/grad/ops/rope.ts';
import { softmaxBackward, softmaxF64 } from '../../src/core/grad/ops/softmax.ts';
import { attentionBackward, attentionF64 } from '../../src/core/grad/ops/attention.ts';
import { geluBackward, geluF64, siluGateBackward, siluGateF64 } from '../../src/core/grad/ops/activations.ts';
import { embeddingBackward } from '../../src/core/grad/ops/embedding.ts';
import { nextTokenCrossEntropy } from '../../src/core/grad/ops/cross-entropy.ts';
import { matmul } from '../../src/core/ops/matmul.ts';
import { rmsNorm } from '../../src/core/ops/rms-norm.ts';
import { layerNorm } from '../../src/core/ops/layer-norm.ts';
import { rope } from '../../src/core/ops/rope.ts';
import { attention } from '../../src/core/ops/attention.ts';
import { gelu } from '../../src/core/ops/gelu.ts';
import { siluGate } from '../../src/core/ops/silu-gate.ts';
import { expectAllClose } from '../helpers/close.ts';
import { dot, numGrad, rand64 } from './grad-fd.ts';

const TOL = { atol: 1e-8, rtol: 1e-6 };
const f32 = (a: Float64Array) => Float32Array.from(a);

describe('grad ops: backward vs central finite differences (float64)', () => {
  it('linear: dX, dW, db', () => {
    const [M, K, N] = [3, 5, 4];
    const x = rand64(M * K, 1);
    const w = rand64(N * K, 2);
    const b = rand64(N, 3);
    const dy = rand64(M * N, 4);
    const F = () => dot(dy, linearF64(x, M, K, w, N, b));
    const r = linearBackward(dy, x, M, K, w, N);
    expectAllClose(r.dx, numGrad(F, x), TOL, 'dx');
    expectAllClose(r.dw, numGrad(F, w), TOL, 'dw');
    expectAllClose(r.db, numGrad(F, b), TOL, 'db');
    const ref = matmul(f32(x), M, K, f32(w), N);
    expectAllClose(linearF64(x, M, K, w, N), ref, { atol: 1e-6, rtol: 1e-6 }, 'forward vs ops/matmul');
  });

  it('RMSNorm: dx, dw', () => {
    const [T, C, eps] = [3, 6, 1e-5];
    const x = rand64(T * C, 5);
    const w = rand64(C, 6);
    const dy = rand64(T * C, 7);
    const F = () => dot(dy, rmsNormF64(x, T, C, w, eps));
    const r = rmsNormBackward(dy, x, T, C, w, eps);
    expectAllClose(r.dx, numGrad(F, x), TOL, 'dx');
    expectAllClose(r.dw, numGrad(F, w), TOL, 'dw');
    expectAllClose(rmsNormF64(x, T, C, w, eps), rmsNorm(f32(x), T, C, f32(w), eps), { atol: 1e-6, rtol: 1e-5 }, 'forward');
  });

  it('LayerNorm: dx, dw, db', () => {
    const [T, C, eps] = [3, 6, 1e-5];
    const x = rand64(T * C, 8);
    const w = rand64(C, 9);
    const b = rand64(C, 10);
    const dy = rand64(T * C, 11);
    const F = () => dot(dy, layerNormF64(x, T, C, w, b, eps));
    const r = layerNormBackward(dy, x, T, C, w, eps);
    expectAllClose(r.dx, numGrad(F, x), TOL, 'dx');
    expectAllClose(r.dw, numGrad(F, w), TOL, 'dw');
    expectAllClose(r.db, numGrad(F, b), TOL, 'db');
    expectAllClose(layerNormF64(x, T, C, w, b, eps), layerNorm(f32(x), T, C, f32(w), f32(b), eps), { atol: 1e-6, rtol: 1e-5 }, 'forward');
  });

  for (const kind of ['adjacent', 'half'] as const) {
    it(`RoPE (${kind}, partial rotary dim, pos0 = 3)`, () => {
      const [T, H, D, dim, theta, pos0] = [3, 2, 8, 6, 100, 3];
      const x = rand64(T * H * D, 12);
      const dy = rand64(T * H * D, 13);
      const F = () => dot(dy, ropeF64(x, T, H, D, pos0, theta, dim, kind));
      expectAllClose(ropeBackward(dy, T, H, D, pos0, theta, dim, kind), numGrad(F, x), TOL, 'dx');
      const ref = f32(x);
      rope(ref, T, H, D, pos0, theta, dim, kind);
      expectAllClose(ropeF64(x, T, H, D, pos0, theta, dim, kind), ref, { atol: 1e-6, rtol: 1e-5 }, 'forward');
    });
  }

  it('softmax rows', () => {
    const [R, N] = [3, 5];
    const x = rand64(R * N, 14, 3);
    const dy = rand64(R * N, 15);
    const F = () => dot(dy, softmaxF64(x, R, N));
    expectAllClose(softmaxBackward(dy, softmaxF64(x, R, N), R, N), numGrad(F, x), TOL);
  });

  for (const [H, Hkv] of [[2, 2], [4, 2], [3, 1]]) {
    it(`causal attention H=${H} Hkv=${Hkv}: dq, dk, dv`, () => {
      const [T, D] = [4, 3];
      const scale = 1 / Math.sqrt(D);
      const q = rand64(T * H * D, 16);
      const k = rand64(T * Hkv * D, 17);
      const v = rand64(T * Hkv * D, 18);
      const dO = rand64(T * H * D, 19);
      const F = () => dot(dO, attentionF64(q, k, v, T, H, Hkv, D, scale).o);
      const a = attentionF64(q, k, v, T, H, Hkv, D, scale);
      const r = attentionBackward(dO, q, k, v, a.p, T, H, Hkv, D, scale);
      expectAllClose(r.dq, numGrad(F, q), TOL, 'dq');
      expectAllClose(r.dk, numGrad(F, k), TOL, 'dk');
      expectAllClose(r.dv, numGrad(F, v), TOL, 'dv');
      expectAllClose(a.o, attention(f32(q), f32(k), f32(v), T, H, Hkv, D, 0, scale), { atol: 1e-6, rtol: 1e-5 }, 'forward');
    });
  }

  it('SiLU gate: dg, du', () => {
    const g = rand64(10, 20, 4);
    const u = rand64(10, 21, 2);
    const dy = rand64(10, 22);
    const F = () => dot(dy, siluGateF64(g, u));
    const r = siluGateBackward(dy, g, u);
    expectAllClose(r.dg, numGrad(F, g), TOL, 'dg');
    expectAllClose(r.du, numGrad(F, u), TOL, 'du');
    expectAllClose(siluGateF64(g, u), siluGate(f32(g), f32(u)), { atol: 1e-6, rtol: 1e-5 }, 'forward');
  });

  it('GELU (tanh)', () => {
    const x = rand64(12, 23, 5);
    const dy = rand64(12, 24);
    const F = () => dot(dy, geluF64(x));
    expectAllClose(geluBackward(dy, x), numGrad(F, x), TOL);
    expectAllClose(geluF64(x), gelu(f32(x)), { atol: 1e-6, rtol: 1e-5 }, 'forward');
  });

  it('embedding gather with learned positions: scatter-add (repeated ids accumulate)', () => {
    const [rows, C] = [5, 3];
    const ids = [2, 0, 2, 4];
    const T = ids.length;
    const table = rand64(rows * C, 25);
    const pos = rand64(8 * C, 26);
    const dy = rand64(T * C, 27);
    const F = () => {
      let s = 0;
      for (let t = 0; t < T; t++) for (let c = 0; c < C; c++) s += dy[t * C + c] * (table[ids[t] * C + c] + pos[(1 + t) * C + c]);
      return s;
    };
    const dT = new Float64Array(rows * C);
    const dP = new Float64Array(8 * C);
    embeddingBackward(dy, ids, C, dT, dP, 1);
    expectAllClose(dT, numGrad(F, table), TOL, 'dTable');
    expectAllClose(dP, numGrad(F, pos), TOL, 'dPos');
  });

  it('mean next-token cross-entropy: value by hand, dlogits by FD', () => {
    // Two rows with a target, uniform logits over V = 4: loss = log 4.
    const u = nextTokenCrossEntropy(new Float64Array(12), 3, 4, [0, 1, 2]);
    expect(u.loss).toBeCloseTo(Math.log(4), 12);
    const [T, V] = [4, 5];
    const ids = [1, 3, 0, 4];
    const z = rand64(T * V, 28, 2);
    const r = nextTokenCrossEntropy(z, T, V, ids);
    expectAllClose(r.dlogits, numGrad(() => nextTokenCrossEntropy(z, T, V, ids).loss, z), TOL);
    const r2 = nextTokenCrossEntropy(z, T, V, ids, 10);
    expect(r2.loss).toBeCloseTo((r.loss * 3) / 10, 12);
  });
});
