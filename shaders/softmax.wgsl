// Row-wise softmax, f32, numerically stable, over R rows of N (e.g. logits [T, V]):
//   y[r, i] = exp(s x[r, i] - m) / sum_j exp(s x[r, j] - m),   m = max_j s x[r, j]
// (s = scale, 1 / temperature). log = 1 gives log-softmax: s x - m - log(sum). Row r of x starts at
// xOff + r * ldx, of y at yOff + r * ldy. One workgroup (256 threads) per row: max, then sum of exp
// (tree reductions in workgroup memory), then the write. Workgroup ids flattened (x + y * nwg.x).
// Entry points: main (x -> y) and in_place (binding 1 read and overwritten).
// Reference: src/core/ops/softmax.ts.

struct Params { R: u32, N: u32, xOff: u32, ldx: u32, yOff: u32, ldy: u32, scale: f32, log: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read_write> xy: array<f32>;

const WG: u32 = 256u;
var<workgroup> red: array<f32, 256>;
//!include wg-reduce

fn out_value(v: f32, m: f32, z: f32) -> f32 {
  if (P.log != 0u) { return (P.scale * v - m) - log(z); }
  return exp(P.scale * v - m) / z;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let r = wid.x + wid.y * nwg.x;
  if (r >= P.R) { return; }
  let xo = P.xOff + r * P.ldx;
  var m = -3.0e38;
  for (var i = lid; i < P.N; i += WG) { m = max(m, P.scale * x[xo + i]); }
  m = wg_max(lid, m);
  var z = 0.0;
  for (var i = lid; i < P.N; i += WG) { z = z + exp(P.scale * x[xo + i] - m); }
  z = wg_sum(lid, z);
  let yo = P.yOff + r * P.ldy;
  for (var i = lid; i < P.N; i += WG) { y[yo + i] = out_value(x[xo + i], m, z); }
}

@compute @workgroup_size(256)
fn in_place(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let r = wid.x + wid.y * nwg.x;
  if (r >= P.R) { return; }
  let xo = P.xOff + r * P.ldx;
  var m = -3.0e38;
  for (var i = lid; i < P.N; i += WG) { m = max(m, P.scale * xy[xo + i]); }
  m = wg_max(lid, m);
  var z = 0.0;
  for (var i = lid; i < P.N; i += WG) { z = z + exp(P.scale * xy[xo + i] - m); }
  z = wg_sum(lid, z);
  // each thread rewrites only the values it read itself
  for (var i = lid; i < P.N; i += WG) { xy[xo + i] = out_value(xy[xo + i], m, z); }
}
