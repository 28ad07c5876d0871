// Backward of the embedding gather out[t] = table[ids[t]]: scatter-add dTable[ids[t], :] += dy[t, :],
// dy [T, C], dTable [rows, C] (accumulated into, f32). Race-free without atomics: one invocation per
// (row, channel) loops over all T tokens and adds the dy of those whose id is its row.
// Reference: src/core/grad/ops/embedding.ts (embeddingBackward).

struct Params { T: u32, C: u32, rows: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> dtable: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * 64u;
  if (idx >= P.rows * P.C) { return; }
  let r = idx / P.C;
  let c = idx % P.C;
  var acc = 0.0;
  var hit = false;
  for (var t = 0u; t < P.T; t += 1u) {
    if (ids[t] == r) { acc = acc + dy[t * P.C + c]; hit = true; }
  }
  if (hit) { dtable[idx] = dtable[idx] + acc; }
}
