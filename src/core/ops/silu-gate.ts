// SwiGLU gate reference (Shazeer 2020, arXiv 2002.05202; Llama MLP): y = silu(g) * u elementwise,
// silu(x) = x / (1 + exp(-x)).

export function siluGate(g: Float32Array, u: Float32Array): Float32Array {
  if (g.length !== u.length) throw new Error(`siluGate: gate has ${g.length} values, up has ${u.length}`);
  const y = new Float32Array(g.length);
  for (let i = 0; i < g.length; i++) y[i] = (g[i] / (1 + Math.exp(-g[i]))) * u[i];
  return y;
}
