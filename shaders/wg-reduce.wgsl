// Workgroup tree reductions, shared by the row kernels (softmax, rms-norm, layer-norm, attention) through
// `//!include wg-reduce` (src/gpu/shaders.ts pastes this file in). Not a shader by itself: the including
// shader declares `const WG: u32` (its workgroup size, a power of two) and
// `var<workgroup> red: array<f32, WG>`. Every invocation of the workgroup must call these (barriers);
// the result is the same in every invocation, and `red` is free again when they return.

fn wg_max(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn wg_sum(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
