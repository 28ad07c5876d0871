// Backward of a row-wise softmax y = softmax(x) over rows of [R, N], f32:
//   dx[r, i] = y[r, i] (dy[r, i] - sum_j y[r, j] dy[r, j])   (the Jacobian diag(y) - y y^T times dy)
// One invocation per row, plain loops. Reference: src/core/grad/ops/softmax.ts (softmaxBackward).

struct Params { R: u32, N: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * 64u;
  if (r >= P.R) { return; }
  let o = r * P.N;
  var s = 0.0;
  for (var i = 0u; i < P.N; i += 1u) { s = s + y[o + i] * dy[o + i]; }
  for (var i = 0u; i < P.N; i += 1u) { out[o + i] = y[o + i] * (dy[o + i] - s); }
}
