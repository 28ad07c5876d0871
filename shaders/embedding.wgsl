// Embedding gather for f32 tables: out[t, c] = table[ids[t], c] (+ pos[pos0 + t, c] for learned
// positions, GPT-2). flags: bit 0 = add the position row, bit 1 = skip the token row (add positions to
// out as it is: used after a quantized-table gather). Ids outside the table give zeros.

struct Params { T: u32, C: u32, pos0: u32, flags: u32, rows: u32, _a: u32, _b: u32, _c: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read> pos: array<f32>;
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
    if (id < P.rows) { v = table[id * P.C + c]; }
  }
  if ((P.flags & 1u) != 0u) { v = v + pos[(P.pos0 + t) * P.C + c]; }
  out[i] = v;
}
