// Strided 2-D copy, f32: dst[dOff + r * ldd + c] = src[sOff + r * lds + c] for r < R, c < C. Slices
// columns out of (or into) wider row-major buffers, e.g. q, k or v of a fused QKV buffer, or one
// token's row. One thread per value; ids flattened over x and y of the dispatch. src and dst must be
// different buffers (queue copyBufferToBuffer covers contiguous same-layout copies).

struct Params { R: u32, C: u32, sOff: u32, lds: u32, dOff: u32, ldd: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= P.R * P.C) { return; }
  let r = i / P.C;
  let c = i % P.C;
  dst[P.dOff + r * P.ldd + c] = src[P.sOff + r * P.lds + c];
}
