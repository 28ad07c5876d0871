// RMSNorm (Zhang & Sennrich 2019, arXiv 1910.07467; llama2.c rmsnorm, llama.cpp LLM_NORM_RMS), f32:
//   y[t, c] = x[t, c] / sqrt(mean_c(x[t, :]^2) + eps) * w[c]     for T rows of C channels.
// Row t of x starts at xOff + t * ldx, of y at yOff + t * ldy. One workgroup (256 threads) per row:
// strided partial sums of squares, a tree reduction in workgroup memory, then the scaled write.
// Workgroup ids are flattened (x + y * num_workgroups.x), so more than 65535 rows can be dispatched.
// Entry points: `main` (x -> y) and `in_place` (x at binding 1 is read and overwritten).
// Reference: src/core/ops/rms-norm.ts.

struct Params { T: u32, C: u32, xOff: u32, ldx: u32, yOff: u32, ldy: u32, eps: f32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read_write> xy: array<f32>;

const WG: u32 = 256u;
var<workgroup> red: array<f32, 256>;
//!include wg-reduce

fn inv_rms(ss: f32) -> f32 {
  return 1.0 / sqrt(ss / f32(P.C) + P.eps);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = wid.x + wid.y * nwg.x;
  if (t >= P.T) { return; }
  let xo = P.xOff + t * P.ldx;
  var ss = 0.0;
  for (var c = lid; c < P.C; c += WG) {
    let v = x[xo + c];
    ss = ss + v * v;
  }
  let inv = inv_rms(wg_sum(lid, ss));
  let yo = P.yOff + t * P.ldy;
  for (var c = lid; c < P.C; c += WG) {
    y[yo + c] = x[xo + c] * inv * w[c];
  }
}

@compute @workgroup_size(256)
fn in_place(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let t = wid.x + wid.y * nwg.x;
  if (t >= P.T) { return; }
  let xo = P.xOff + t * P.ldx;
  var ss = 0.0;
  for (var c = lid; c < P.C; c += WG) {
    let v = xy[xo + c];
    ss = ss + v * v;
  }
  // Every thread has read its own channels above and rewrites only those below.
  let inv = inv_rms(wg_sum(lid, ss));
  for (var c = lid; c < P.C; c += WG) {
    xy[xo + c] = xy[xo + c] * inv * w[c];
  }
}

// `simple`: x -> y with one invocation per row and no workgroup memory or barriers, for software
// adapters (SwiftShader & co.), where a barrier costs more than the row it synchronises.
@compute @workgroup_size(64)
fn simple(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 64u;
  if (t >= P.T) { return; }
  let xo = P.xOff + t * P.ldx;
  var ss = 0.0;
  for (var c = 0u; c < P.C; c += 1u) { let v = x[xo + c]; ss = ss + v * v; }
  let r = inv_rms(ss);
  let yo = P.yOff + t * P.ldy;
  for (var c = 0u; c < P.C; c += 1u) { y[yo + c] = x[xo + c] * r * w[c]; }
}
