// Sum of squares of a vector, accumulated into one slot: out[slot] += sum_{i < n} x[offset + i]^2, f32.
// Used for the Fisher-style score (src/core/metrics/fisher.ts): the squared weight gradient of one tensor
// reduced on the GPU so only one number per tensor is read back. One workgroup of 256 invocations per
// dispatch: each invocation sums a strided share (i = lid, lid + 256, ...), then a tree reduction in
// workgroup memory; invocation 0 adds the total to out[slot]. Dispatches that target the same slot add up
// (used for a fused tensor reduced in parts). Reference: src/core/grad/ops/sum-sq.ts (sumSq).

struct Params { n: u32, offset: u32, slot: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

const WG: u32 = 256u;
var<workgroup> part: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = lid; i < P.n; i += WG) {
    let v = x[P.offset + i];
    acc = acc + v * v;
  }
  part[lid] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { part[lid] = part[lid] + part[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { out[P.slot] = out[P.slot] + part[0]; }
}
