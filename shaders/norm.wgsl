// Row normalisation, one workgroup (256 threads) per row of x [T, C], reductions in workgroup memory.
//   rms_norm:   y = x / sqrt(mean(x^2) + eps) * w                 (RMSNorm, Zhang & Sennrich 2019)
//   layer_norm: y = (x - mean) / sqrt(var + eps) * w + b, biased var (LayerNorm, Ba et al. 2016)
// x row t starts at xOff + t * C; y row t at t * C. References: src/core/ops/rms-norm.ts, layer-norm.ts.
// *_simple entry points: one invocation per row, no workgroup memory or barriers, for software adapters.

struct Params { T: u32, C: u32, xOff: u32, eps: f32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

const WG: u32 = 256u;
var<workgroup> red: array<f32, 256>;

fn reduce_sum(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  var s = WG / 2u;
  loop {
    if (s == 0u) { break; }
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
    s = s / 2u;
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn row_index(wg: vec3<u32>, nwg: vec3<u32>) -> u32 { return wg.x + wg.y * nwg.x; }

@compute @workgroup_size(256)
fn rms_norm(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) li: vec3<u32>) {
  let t = row_index(wg, nwg);
  if (t >= P.T) { return; }
  let lid = li.x;
  let xo = P.xOff + t * P.C;
  var ss = 0.0;
  for (var c = lid; c < P.C; c = c + WG) { let v = x[xo + c]; ss = ss + v * v; }
  let total = reduce_sum(lid, ss);
  let inv = 1.0 / sqrt(total / f32(P.C) + P.eps);
  for (var c = lid; c < P.C; c = c + WG) { y[t * P.C + c] = x[xo + c] * inv * w[c]; }
}

@compute @workgroup_size(256)
fn layer_norm(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) li: vec3<u32>) {
  let t = row_index(wg, nwg);
  if (t >= P.T) { return; }
  let lid = li.x;
  let xo = P.xOff + t * P.C;
  var s = 0.0;
  for (var c = lid; c < P.C; c = c + WG) { s = s + x[xo + c]; }
  let mean = reduce_sum(lid, s) / f32(P.C);
  var v = 0.0;
  for (var c = lid; c < P.C; c = c + WG) { let d = x[xo + c] - mean; v = v + d * d; }
  let inv = 1.0 / sqrt(reduce_sum(lid, v) / f32(P.C) + P.eps);
  for (var c = lid; c < P.C; c = c + WG) { y[t * P.C + c] = (x[xo + c] - mean) * inv * w[c] + b[c]; }
}

@compute @workgroup_size(64)
fn rms_norm_simple(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 64u;
  if (t >= P.T) { return; }
  let xo = P.xOff + t * P.C;
  var ss = 0.0;
  for (var c = 0u; c < P.C; c = c + 1u) { let v = x[xo + c]; ss = ss + v * v; }
  let inv = 1.0 / sqrt(ss / f32(P.C) + P.eps);
  for (var c = 0u; c < P.C; c = c + 1u) { y[t * P.C + c] = x[xo + c] * inv * w[c]; }
}

@compute @workgroup_size(64)
fn layer_norm_simple(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 64u;
  if (t >= P.T) { return; }
  let xo = P.xOff + t * P.C;
  var s = 0.0;
  for (var c = 0u; c < P.C; c = c + 1u) { s = s + x[xo + c]; }
  let mean = s / f32(P.C);
  var v = 0.0;
  for (var c = 0u; c < P.C; c = c + 1u) { let d = x[xo + c] - mean; v = v + d * d; }
  let inv = 1.0 / sqrt(v / f32(P.C) + P.eps);
  for (var c = 0u; c < P.C; c = c + 1u) { y[t * P.C + c] = (x[xo + c] - mean) * inv * w[c] + b[c]; }
}
