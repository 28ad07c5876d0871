// GELU reference, tanh approximation (Hendrycks & Gimpel 2016, arXiv 1606.08415; GPT-2 / HF gelu_new):
// gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), elementwise.

const K = Math.sqrt(2 / Math.PI);

export function gelu(x: Float32Array): Float32Array {
  const y = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    y[i] = 0.5 * v * (1 + Math.tanh(K * (v + 0.044715 * v * v * v)));
  }
  return y;
}
