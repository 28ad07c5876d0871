// Residual add, f32, elementwise over n values: y[yOff + i] = a[aOff + i] + scale * b[bOff + i]
// (scale 1: the residual connection). One thread per value; ids flattened over x and y of the dispatch.
// Entry points: main (a, b -> y) and in_place (a at binding 1 is overwritten: a += scale * b).
// Reference: src/core/ops/add.ts.

struct Params { n: u32, aOff: u32, bOff: u32, yOff: u32, scale: f32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read_write> aio: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= P.n) { return; }
  y[P.yOff + i] = a[P.aOff + i] + P.scale * b[P.bOff + i];
}

@compute @workgroup_size(256)
fn in_place(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= P.n) { return; }
  aio[P.aOff + i] = aio[P.aOff + i] + P.scale * b[P.bOff + i];
}
