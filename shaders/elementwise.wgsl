// Elementwise kernels over n values (flattened; more than 65535 workgroups split over y).
//   silu_gate: g[i] = silu(g[i]) * u[i], silu(x) = x / (1 + exp(-x))  (SwiGLU, Shazeer 2020)
//   gelu:      x[i] = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))  (GELU tanh form, GPT-2)
//   add:       a[i] = a[i] + scale * b[i]                              (residual add; scale for interventions)
// References: src/core/ops/silu-gate.ts, gelu.ts; add is a + s*b.

struct Params { n: u32, scale: f32, _a: u32, _b: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;

fn idx(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

@compute @workgroup_size(256)
fn silu_gate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = idx(gid, nwg);
  if (i >= P.n) { return; }
  let g = a[i];
  a[i] = g / (1.0 + exp(-g)) * b[i];
}

@compute @workgroup_size(256)
fn gelu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = idx(gid, nwg);
  if (i >= P.n) { return; }
  let x = a[i];
  // tanh(z) = 1 - 2 / (exp(2z) + 1), with z clamped so exp cannot overflow (tanh(15) == 1 in f32).
  let z = clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), -15.0, 15.0);
  let th = 1.0 - 2.0 / (exp(2.0 * z) + 1.0);
  a[i] = 0.5 * x * (1.0 + th);
}

@compute @workgroup_size(256)
fn add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = idx(gid, nwg);
  if (i >= P.n) { return; }
  a[i] = a[i] + P.scale * b[i];
}
