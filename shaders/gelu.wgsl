// GELU, tanh approximation (Hendrycks & Gimpel 2016, arXiv 1606.08415; GPT-2 / HF gelu_new), f32,
// elementwise over T rows of C, with an optional bias added first (the MLP up-projection's bias):
//   v = x[t, c] (+ b[bOff + c]),  y[t, c] = 0.5 v (1 + tanh(sqrt(2/pi) (v + 0.044715 v^3)))
// tanh(u) = 1 - 2 / (exp(2u) + 1) with v clamped to [-10, 10] inside the cubic and u to [-10, 10]
// (tanh(10) rounds to 1 in f32), so neither exp nor v^3 can overflow (WGSL lets compilers assume no
// infinities) and no inf / inf = NaN appears, whatever the driver's builtin tanh does.
// x/y are contiguous [T, C] at xOff / yOff. One thread per value; ids flattened over x and y.
// Entry points: main (x -> y) and in_place (binding 1 read and overwritten).
// Reference: src/core/ops/gelu.ts (bias added by the caller).

struct Params { n: u32, C: u32, xOff: u32, yOff: u32, bOff: u32, flags: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read_write> xy: array<f32>;

const K: f32 = 0.7978845608028654;  // sqrt(2 / pi)

fn gelu(x0: f32, i: u32) -> f32 {
  var v = x0;
  if ((P.flags & 1u) != 0u) { v = v + b[P.bOff + i % P.C]; }
  let vc = clamp(v, -10.0, 10.0);  // |v| >= 10 already gives |u| > 10; no v^3 overflow
  let u = clamp(K * (vc + 0.044715 * vc * vc * vc), -10.0, 10.0);
  let t = 1.0 - 2.0 / (exp(2.0 * u) + 1.0);
  return 0.5 * v * (1.0 + t);
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= P.n) { return; }
  y[P.yOff + i] = gelu(x[P.xOff + i], i);
}

@compute @workgroup_size(256)
fn in_place(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= P.n) { return; }
  xy[P.xOff + i] = gelu(xy[P.xOff + i], i);
}
