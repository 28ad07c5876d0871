// Embedding gather, f32 (token embedding + optional learned absolute positions, GPT-2 wte/wpe):
//   out[t, c] = scale * table[ids[t], c] (+ posTable[pos0 + t, c])     table [rows, C], ids u32 [T]
// An id >= rows gives a zero token row. flags: bit 0 = add positions; bit 1 = no table: only add the
// positions to what `out` already holds (after a quantized-table gather). One thread per value; ids
// flattened over x and y of the dispatch. Reference: src/core/ops/embedding.ts.

struct Params { T: u32, C: u32, pos0: u32, flags: u32, rows: u32, scale: f32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read> posTable: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= P.T * P.C) { return; }
  let t = i / P.C;
  let c = i % P.C;
  var v = 0.0;
  if ((P.flags & 2u) != 0u) {
    v = out[i];
  } else {
    let id = ids[t];
    if (id < P.rows) { v = P.scale * table[id * P.C + c]; }
  }
  if ((P.flags & 1u) != 0u) { v = v + posTable[(P.pos0 + t) * P.C + c]; }
  out[i] = v;
}
