// Residual add reference, elementwise: y = a + scale * b (scale 1 for a plain residual connection;
// another value scales a sublayer's contribution, as the layer-scaling interventions do). Plain loop.

export function add(a: Float32Array, b: Float32Array, scale = 1): Float32Array {
  if (a.length !== b.length) throw new Error(`add: a has ${a.length} values, b has ${b.length}`);
  const y = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) y[i] = a[i] + scale * b[i];
  return y;
}
