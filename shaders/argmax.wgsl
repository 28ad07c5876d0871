// Row-wise argmax, f32 -> u32, over R rows of N (e.g. the last row of logits [T, V], for greedy decoding
// without reading the logits back): ids[r] = the lowest i with x[r, i] = max_j x[r, j]. NaN never wins;
// a row containing NaN yields 0xffffffff (the host refuses it). A row of all -inf yields 0.
// Row r of x at xOff + r * ldx; ids[outOff + r].
// Entry points:
//   main   one workgroup (256 threads) per row: strided scan per thread (strict > keeps the lowest index),
//          then a tree reduction of (value, index) pairs, ties to the lower index;
//   simple one invocation per row, a plain scan (barrier-free, for software adapters / small vocabularies).
// Workgroup ids flattened (x + y * nwg.x). Reference: src/core/ops/argmax.ts.

struct Params { R: u32, N: u32, xOff: u32, ldx: u32, outOff: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> ids: array<u32>;

const WG: u32 = 256u;
const NONE: u32 = 0xffffffffu;
var<workgroup> rv: array<f32, 256>;
var<workgroup> ri: array<u32, 256>;
var<workgroup> anyNan: atomic<u32>;

// NaN test on the bits (compilers may fold v != v away).
fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// (v2, i2) beats (v1, i1): larger value, or equal value at a lower index; NONE never beats.
fn better(v2: f32, i2: u32, v1: f32, i1: u32) -> bool {
  if (i2 == NONE) { return false; }
  if (i1 == NONE) { return true; }
  return v2 > v1 || (v2 == v1 && i2 < i1);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let r = wid.x + wid.y * nwg.x;
  if (lid == 0u) { atomicStore(&anyNan, 0u); }
  workgroupBarrier();
  if (r >= P.R) { return; }
  let xo = P.xOff + r * P.ldx;
  var bv = 0.0;
  var bi = NONE;
  for (var i = lid; i < P.N; i += WG) {
    let v = x[xo + i];
    if (is_nan(v)) { atomicOr(&anyNan, 1u); }
    else if (bi == NONE || v > bv) { bv = v; bi = i; }
  }
  rv[lid] = bv;
  ri[lid] = bi;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s && better(rv[lid + s], ri[lid + s], rv[lid], ri[lid])) {
      rv[lid] = rv[lid + s];
      ri[lid] = ri[lid + s];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    var id = ri[0];
    if (atomicLoad(&anyNan) != 0u) { id = NONE; }
    ids[P.outOff + r] = id;
  }
}

@compute @workgroup_size(64)
fn simple(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * 64u;
  if (r >= P.R) { return; }
  let xo = P.xOff + r * P.ldx;
  var bv = 0.0;
  var bi = NONE;
  var nan = false;
  for (var i = 0u; i < P.N; i++) {
    let v = x[xo + i];
    if (is_nan(v)) { nan = true; }
    else if (bi == NONE || v > bv) { bv = v; bi = i; }
  }
  if (nan) { bi = NONE; }
  ids[P.outOff + r] = bi;
}
