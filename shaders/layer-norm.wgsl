// LayerNorm (Ba et al. 2016, arXiv 1607.06450; PyTorch nn.LayerNorm, biased variance), f32:
//   y[t, c] = (x[t, c] - mean) / sqrt(var + eps) * w[c] + b[c],  mean/var over the C channels of row t.
// Two passes over the row (the mean of x - x[row, 0], then the mean of squared deviations), so a large
// common offset does not cancel catastrophically. Row t of x at xOff + t * ldx, of y at yOff + t * ldy. One workgroup
// (256 threads) per row, tree reductions in workgroup memory; workgroup ids flattened (x + y * nwg.x).
// flags bit 0: add the bias b. Entry points: main (x -> y) and in_place (binding 1 read and
// overwritten). Reference: src/core/ops/layer-norm.ts.

struct Params { T: u32, C: u32, xOff: u32, ldx: u32, yOff: u32, ldy: u32, eps: f32, flags: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read_write> xy: array<f32>;

const WG: u32 = 256u;
var<workgroup> red: array<f32, 256>;
//!include wg-reduce

// (v - shift) - m0 rather than v - mean: the f32 mean of large values would carry their rounding.
fn affine(v: f32, shift: f32, m0: f32, rstd: f32, c: u32) -> f32 {
  var r = ((v - shift) - m0) * rstd * w[c];
  if ((P.flags & 1u) != 0u) { r = r + b[c]; }
  return r;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = wid.x + wid.y * nwg.x;
  if (t >= P.T) { return; }
  let xo = P.xOff + t * P.ldx;
  let shift = x[xo];  // sums of x - x[0]: a large common offset costs no precision
  var s = 0.0;
  for (var c = lid; c < P.C; c += WG) { s = s + (x[xo + c] - shift); }
  let m0 = wg_sum(lid, s) / f32(P.C);  // mean - shift
  var q = 0.0;
  for (var c = lid; c < P.C; c += WG) {
    let d = (x[xo + c] - shift) - m0;
    q = q + d * d;
  }
  let rstd = 1.0 / sqrt(wg_sum(lid, q) / f32(P.C) + P.eps);
  let yo = P.yOff + t * P.ldy;
  for (var c = lid; c < P.C; c += WG) { y[yo + c] = affine(x[xo + c], shift, m0, rstd, c); }
}

@compute @workgroup_size(256)
fn in_place(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let t = wid.x + wid.y * nwg.x;
  if (t >= P.T) { return; }
  let xo = P.xOff + t * P.ldx;
  let shift = xy[xo];  // sums of x - x[0]: a large common offset costs no precision
  var s = 0.0;
  for (var c = lid; c < P.C; c += WG) { s = s + (xy[xo + c] - shift); }
  let m0 = wg_sum(lid, s) / f32(P.C);  // mean - shift
  var q = 0.0;
  for (var c = lid; c < P.C; c += WG) {
    let d = (xy[xo + c] - shift) - m0;
    q = q + d * d;
  }
  let rstd = 1.0 / sqrt(wg_sum(lid, q) / f32(P.C) + P.eps);
  for (var c = lid; c < P.C; c += WG) { xy[xo + c] = affine(xy[xo + c], shift, m0, rstd, c); }
}

// `simple`: x -> y with one invocation per row and no workgroup memory or barriers, for software
// adapters (SwiftShader & co.), where a barrier costs more than the row it synchronises.
@compute @workgroup_size(64)
fn simple(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 64u;
  if (t >= P.T) { return; }
  let xo = P.xOff + t * P.ldx;
  let shift = x[xo];
  var s = 0.0;
  for (var c = 0u; c < P.C; c += 1u) { s = s + (x[xo + c] - shift); }
  let m0 = s / f32(P.C);
  var q = 0.0;
  for (var c = 0u; c < P.C; c += 1u) { let d = (x[xo + c] - shift) - m0; q = q + d * d; }
  let rstd = 1.0 / sqrt(q / f32(P.C) + P.eps);
  let yo = P.yOff + t * P.ldy;
  for (var c = 0u; c < P.C; c += 1u) { y[yo + c] = affine(x[xo + c], shift, m0, rstd, c); }
}
