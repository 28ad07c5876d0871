// SwiGLU gate (Shazeer 2020, arXiv 2002.05202; Llama MLP), f32, elementwise over T rows of C:
//   y[t, c] = silu(g[t, c]) * u[t, c],   silu(x) = x / (1 + exp(-x)).
// Each operand has an element offset and a row stride, so g and u can be the two halves of one fused
// gate_up buffer [T, 2C]. exp's argument is clamped at 88 (silu(x < -88) = x / (1 + e^88) ~ -0), so no
// intermediate overflows. One thread per value; ids flattened over x and y of the dispatch.
// Entry points: main (g, u -> y; g and u may be one buffer), in_place (result over g; u another
// buffer), in_place_fused (g and u both read from binding 1, result over g).
// Reference: src/core/ops/silu-gate.ts.

struct Params { T: u32, C: u32, gOff: u32, ldg: u32, uOff: u32, ldu: u32, yOff: u32, ldy: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> u: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read_write> gio: array<f32>;

fn silu(x: f32) -> f32 {
  return x / (1.0 + exp(min(-x, 88.0)));
}

struct Ix { g: u32, u: u32, y: u32, ok: bool }

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> Ix {
  let idx = gid.x + gid.y * nwg.x * 256u;
  let t = idx / max(P.C, 1u);
  let c = idx % max(P.C, 1u);
  return Ix(P.gOff + t * P.ldg + c, P.uOff + t * P.ldu + c, P.yOff + t * P.ldy + c, idx < P.T * P.C);
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (!i.ok) { return; }
  y[i.y] = silu(g[i.g]) * u[i.u];
}

@compute @workgroup_size(256)
fn in_place(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (!i.ok) { return; }
  gio[i.g] = silu(gio[i.g]) * u[i.u];
}

@compute @workgroup_size(256)
fn in_place_fused(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (!i.ok) { return; }
  gio[i.g] = silu(gio[i.g]) * gio[i.u];
}
