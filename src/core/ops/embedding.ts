// Embedding gather reference (token embedding, plus learned absolute positions as GPT-2's wpe,
// Radford et al. 2019): out[t, :] = scale * table[ids[t], :] (+ posTable[pos0 + t, :]), table [rows, C].
// An id outside 0..rows-1 gives a zero token row (the GPU kernel does the same instead of reading
// out of bounds). Plain loops.

export function embedding(
  table: Float32Array,
  rows: number,
  C: number,
  ids: ArrayLike<number>,
  posTable?: Float32Array,
  pos0 = 0,
  scale = 1,
): Float32Array {
  const T = ids.length;
  const out = new Float32Array(T * C);
  for (let t = 0; t < T; t++) {
    const id = ids[t];
    const ok = Number.isInteger(id) && id >= 0 && id < rows;
    for (let c = 0; c < C; c++) {
      let v = ok ? scale * table[id * C + c] : 0;
      if (posTable) v += posTable[(pos0 + t) * C + c];
      out[t * C + c] = v;
    }
  }
  return out;
}
