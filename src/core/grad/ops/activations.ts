// Elementwise MLP activations, forward and backward in float64.
// SwiGLU gate (Shazeer 2020, arXiv 2002.05202; Llama): y = silu(g) u, silu(g) = g sigma(g),
//   dg = dy u sigma(g) (1 + g (1 - sigma(g))),  du = dy silu(g).
// GELU, tanh approximation (Hendrycks & Gimpel 2016, arXiv 1606.08415; GPT-2 gelu_new):
//   y = 0.5 x (1 + tanh(a)), a = k (x + 0.044715 x^3), k = sqrt(2 / pi)
//   dy/dx = 0.5 (1 + tanh a) + 0.5 x (1 - tanh^2 a) k (1 + 3 * 0.044715 x^2).

import type { Arr } from './types.ts';

const K = Math.sqrt(2 / Math.PI);
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

export function siluGateF64(g: Arr, u: Arr): Float64Array {
  const y = new Float64Array(g.length);
  for (let i = 0; i < g.length; i++) y[i] = g[i] * sigmoid(g[i]) * u[i];
  return y;
}

export function siluGateBackward(dy: Arr, g: Arr, u: Arr): { dg: Float64Array; du: Float64Array } {
  const dg = new Float64Array(g.length);
  const du = new Float64Array(g.length);
  for (let i = 0; i < g.length; i++) {
    const s = sigmoid(g[i]);
    dg[i] = dy[i] * u[i] * s * (1 + g[i] * (1 - s));
    du[i] = dy[i] * g[i] * s;
  }
  return { dg, du };
}

export function geluF64(x: Arr): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    y[i] = 0.5 * v * (1 + Math.tanh(K * (v + 0.044715 * v * v * v)));
  }
  return y;
}

export function geluBackward(dy: Arr, x: Arr): Float64Array {
  const dx = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    const th = Math.tanh(K * (v + 0.044715 * v * v * v));
    dx[i] = dy[i] * (0.5 * (1 + th) + 0.5 * v * (1 - th * th) * K * (1 + 3 * 0.044715 * v * v));
  }
  return dx;
}
