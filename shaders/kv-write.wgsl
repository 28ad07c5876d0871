// KV-cache append, f32: kc[pos0 + t, :, :] = k[t, :, :] and vc[pos0 + t, :, :] = v[t, :, :] for
// t < T, rows of Hkv * D values (cache layout [maxCtx, Hkv, D], row stride Hkv * D). Token t of k is
// read at kOff + t * ldk (likewise v), so k and v can be column slices of a fused QKV buffer.
// One thread per value; ids flattened over x and y of the dispatch. Consumer: shaders/attention.wgsl.

struct Params { T: u32, row: u32, pos0: u32, kOff: u32, ldk: u32, vOff: u32, ldv: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> kc: array<f32>;
@group(0) @binding(4) var<storage, read_write> vc: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * 64u;
  if (idx >= P.T * P.row) { return; }
  let t = idx / P.row;
  let i = idx % P.row;
  let dst = (P.pos0 + t) * P.row + i;
  kc[dst] = k[P.kOff + t * P.ldk + i];
  vc[dst] = v[P.vOff + t * P.ldv + i];
}
