// Backward of the elementwise MLP activations, f32, one invocation per element (n elements):
//   entry `silu_gate` (SwiGLU, Shazeer 2020, arXiv 2002.05202): y = silu(g) u, silu(g) = g sigma(g)
//     dg = dy u sigma(g) (1 + g (1 - sigma(g)))  -> out;   du = dy g sigma(g)  -> out2
//   entry `gelu` (tanh approximation, Hendrycks & Gimpel 2016, arXiv 1606.08415; GPT-2 gelu_new):
//     y = 0.5 x (1 + tanh(a)), a = k (x + 0.044715 x^3), k = sqrt(2 / pi)
//     dx = dy (0.5 (1 + tanh a) + 0.5 x (1 - tanh^2 a) k (1 + 3 * 0.044715 x^2))  -> out
// Reference: src/core/grad/ops/activations.ts (siluGateBackward, geluBackward).

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;    // g (silu_gate) or x (gelu)
@group(0) @binding(3) var<storage, read> b: array<f32>;    // u (silu_gate only)
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> out2: array<f32>;  // du (silu_gate only)

@compute @workgroup_size(64)
fn silu_gate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= P.n) { return; }
  let g = a[i];
  let s = 1.0 / (1.0 + exp(-g));
  out[i] = dy[i] * b[i] * s * (1.0 + g * (1.0 - s));
  out2[i] = dy[i] * g * s;
}

@compute @workgroup_size(64)
fn gelu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= P.n) { return; }
  let v = a[i];
  // tanh of a clamped argument: |a| >= 10 gives tanh = +-1 in f32 anyway, and avoids exp overflow.
  let th = tanh(clamp(0.7978845608028654 * (v + 0.044715 * v * v * v), -10.0, 10.0));
  out[i] = dy[i] * (0.5 * (1.0 + th) + 0.5 * v * (1.0 - th * th) * 0.7978845608028654 * (1.0 + 3.0 * 0.044715 * v * v));
}
