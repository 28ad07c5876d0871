// Attention reference (src/core/ops/attention.ts) against a hand-computed 2-token case.
import { describe, it } from 'vitest';
import { attention } from '../../src/core/ops/attention.ts';
import { expectAllClose } from '../helpers/close.ts';

// D = 2, scale 1. k0 = [1, 0], k1 = [0, 2]; v0 = [1, 2], v1 = [3, 4].
// token 0 (q0 = [1, 0]) sees only key 0: o0 = v0 = [1, 2].
// token 1 (q1 = [0, 1]) scores [0, 2]: p = [1, e^2] / (1 + e^2) = [0.11920292, 0.88079708],
//   o1 = 0.11920292 [1, 2] + 0.88079708 [3, 4] = [2.76159416, 3.76159416].
const kc = new Float32Array([1, 0, 0, 2]);
const vc = new Float32Array([1, 2, 3, 4]);
const O1 = [2.761594156, 3.761594156];
const tol = { atol: 1e-7, rtol: 1e-7 };

describe('attention reference', () => {
  it('two tokens, causal mask, one head', () => {
    const o = attention(new Float32Array([1, 0, 0, 1]), kc, vc, 2, 1, 1, 2, 0, 1);
    expectAllClose(o, [1, 2, ...O1], tol);
  });

  it('the second token alone at pos0 = 1 over the cache gives the same row', () => {
    expectAllClose(attention(new Float32Array([0, 1]), kc, vc, 1, 1, 1, 2, 1, 1), O1, tol);
  });

  it('GQA: two query heads share one KV head; scale multiplies the scores', () => {
    // head 0: q = [0, 1] as above; head 1: q = [0, 0.5] with scale 2 -> the same scores [0, 2].
    const o = attention(new Float32Array([0, 1, 0, 0.5]), kc, vc, 1, 2, 1, 2, 1, 1);
    expectAllClose(o.subarray(0, 2), O1, tol);
    const o2 = attention(new Float32Array([0, 0.5]), kc, vc, 1, 1, 1, 2, 1, 2);
    expectAllClose(o2, O1, tol);
  });
});
