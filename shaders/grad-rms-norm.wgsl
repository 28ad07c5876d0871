// Backward of RMSNorm y[t, c] = x[t, c] r_t w[c], r_t = 1 / sqrt(mean_c x[t, :]^2 + eps), x [T, C], f32:
//   entry `dx` (one invocation per row t):  dx[t, c] = r w[c] dy[t, c] - x[t, c] r^3 / C sum_j dy[t, j] w[j] x[t, j]
//   entry `dw` (one invocation per channel c): dw[c] = sum_t dy[t, c] x[t, c] r_t
// Plain loops, no workgroup memory. Reference: src/core/grad/ops/rms-norm.ts (rmsNormBackward);
// RMSNorm: Zhang & Sennrich 2019, arXiv 1910.07467.

struct Params { T: u32, C: u32, eps: f32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> w: array<f32>;   // read by `dx` only (auto layouts drop it for `dw`)

fn inv_rms(t: u32) -> f32 {
  var ss = 0.0;
  for (var c = 0u; c < P.C; c += 1u) { let v = x[t * P.C + c]; ss = ss + v * v; }
  return inverseSqrt(ss / f32(P.C) + P.eps);
}

@compute @workgroup_size(64)
fn dx(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 64u;
  if (t >= P.T) { return; }
  let o = t * P.C;
  let r = inv_rms(t);
  var s = 0.0;
  for (var c = 0u; c < P.C; c += 1u) { s = s + dy[o + c] * w[c] * x[o + c]; }
  let k = r * r * r * s / f32(P.C);
  for (var c = 0u; c < P.C; c += 1u) { out[o + c] = r * w[c] * dy[o + c] - x[o + c] * k; }
}

@compute @workgroup_size(64)
fn dw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = gid.x + gid.y * nwg.x * 64u;
  if (c >= P.C) { return; }
  var acc = 0.0;
  for (var t = 0u; t < P.T; t += 1u) { acc = acc + dy[t * P.C + c] * x[t * P.C + c] * inv_rms(t); }
  out[c] = acc;
}
