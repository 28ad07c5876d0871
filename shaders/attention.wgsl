// Causal self-attention with grouped-query heads over a KV cache, f32 (Vaswani et al. 2017; GQA:
// Ainslie et al. 2023, arXiv 2305.13245). q [T, H, D] holds positions pos0 .. pos0+T-1 (token t, head h
// at qOff + t * ldq + h * D); kc, vc [maxCtx, Hkv, D] already hold positions 0 .. pos0+T-1. For query
// head h (KV head h / (H / Hkv)):
//   o[t, h] = sum_{j <= pos0 + t} softmax_j(scale * q[t, h] . k[j]) v[j]     (o at oOff + t * ldo + h * D)
// Keys are visited in chunks of 64 (one key per thread for the scores) with an online softmax
// (Milakov & Gimelshein 2018): running max m and denominator l, output accumulators rescaled by
// exp(m_old - m_new) per chunk, so any context length works with fixed memory. Thread i accumulates
// output channels i, i + 64, i + 128, i + 192: D <= 256. Workgroup ids are flattened (x + y * nwg.x).
//
// Entry points:
//   main:          one workgroup (64 threads) per (t, h) over all its keys.
//   split_partial: split-K for few rows and long contexts (flash-decoding): workgroup (g = t * H + h,
//                  s) covers keys [s * splitLen, (s + 1) * splitLen) and stores (m, l, acc[D]) in
//                  part[(g * S + s) * (D + 2)]; an empty range stores m = -3e38, l = 0.
//   split_combine: one workgroup per (t, h): M = max_s m_s, o = sum_s e^(m_s - M) acc_s / sum_s e^(m_s - M) l_s.
// Reference: src/core/ops/attention.ts.

struct Params {
  T: u32, H: u32, Hkv: u32, D: u32, pos0: u32, scale: f32,
  qOff: u32, ldq: u32, oOff: u32, ldo: u32,
  S: u32, splitLen: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> kc: array<f32>;
@group(0) @binding(3) var<storage, read> vc: array<f32>;
@group(0) @binding(4) var<storage, read_write> o: array<f32>;
// split_partial writes the partials through binding 4; split_combine reads them from binding 1.
@group(0) @binding(4) var<storage, read_write> part: array<f32>;
@group(0) @binding(1) var<storage, read> partIn: array<f32>;

const WG: u32 = 64u;
const NEG: f32 = -3.0e38;  // "minus infinity" without inf arithmetic

var<workgroup> qs: array<f32, 256>;  // q[t, h]
var<workgroup> ps: array<f32, 64>;   // this chunk's exp(s - m)
var<workgroup> red: array<f32, 64>;
//!include wg-reduce

struct State { m: f32, l: f32, acc: array<f32, 4> }

// Online softmax of row g = t * H + h over keys [j0, j1) (j1 <= pos0 + t + 1, uniform per workgroup).
fn attend(g: u32, j0: u32, j1: u32, lid: u32) -> State {
  let t = g / P.H;
  let h = g % P.H;
  let D = P.D;
  let kvRow = P.Hkv * D;                 // elements per cache position
  let kvHead = (h / (P.H / P.Hkv)) * D;
  let qo = P.qOff + t * P.ldq + h * D;
  for (var d = lid; d < D; d += WG) { qs[d] = q[qo + d]; }
  workgroupBarrier();
  var st: State;
  st.m = NEG;
  st.l = 0.0;
  for (var c0 = j0; c0 < j1; c0 += WG) {
    let j = c0 + lid;
    var s = NEG;
    if (j < j1) {
      let ko = j * kvRow + kvHead;
      var dotv = 0.0;
      for (var d = 0u; d < D; d++) { dotv = dotv + qs[d] * kc[ko + d]; }
      s = dotv * P.scale;
    }
    let mNew = max(st.m, wg_max(lid, s));
    var p = 0.0;
    if (j < j1) { p = exp(s - mNew); }
    let alpha = exp(st.m - mNew);  // 0 on the first chunk, 1 while the max holds
    ps[lid] = p;
    st.l = st.l * alpha + wg_sum(lid, p);  // wg_sum's barriers also publish ps
    st.m = mNew;
    let cnt = min(WG, j1 - c0);
    for (var r = 0u; r < 4u; r++) {
      let d = lid + WG * r;
      if (d < D) {
        var a = st.acc[r] * alpha;
        for (var jj = 0u; jj < cnt; jj++) {
          a = a + ps[jj] * vc[(c0 + jj) * kvRow + kvHead + d];
        }
        st.acc[r] = a;
      }
    }
    workgroupBarrier();  // ps is rewritten by the next chunk
  }
  return st;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= P.T * P.H) { return; }
  let t = g / P.H;
  let h = g % P.H;
  let st = attend(g, 0u, P.pos0 + t + 1u, lid);
  let oo = P.oOff + t * P.ldo + h * P.D;
  let inv = 1.0 / st.l;
  for (var r = 0u; r < 4u; r++) {
    let d = lid + WG * r;
    if (d < P.D) { o[oo + d] = st.acc[r] * inv; }
  }
}

@compute @workgroup_size(64)
fn split_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let gs = wid.x + wid.y * nwg.x;
  if (gs >= P.T * P.H * P.S) { return; }
  let g = gs / P.S;
  let s = gs % P.S;
  let n = P.pos0 + g / P.H + 1u;
  let j0 = min(s * P.splitLen, n);
  let j1 = min(j0 + P.splitLen, n);
  let st = attend(g, j0, j1, lid);  // an empty range leaves m = -3e38, l = 0, acc = 0
  let base = gs * (P.D + 2u);
  if (lid == 0u) {
    part[base] = st.m;
    part[base + 1u] = st.l;
  }
  for (var r = 0u; r < 4u; r++) {
    let d = lid + WG * r;
    if (d < P.D) { part[base + 2u + d] = st.acc[r]; }
  }
}

@compute @workgroup_size(64)
fn split_combine(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= P.T * P.H) { return; }
  let stride = P.D + 2u;
  let first = g * P.S * stride;
  var M = NEG;
  for (var s = 0u; s < P.S; s++) { M = max(M, partIn[first + s * stride]); }
  var l = 0.0;
  for (var s = 0u; s < P.S; s++) {
    let b = first + s * stride;
    l = l + exp(partIn[b] - M) * partIn[b + 1u];
  }
  let inv = 1.0 / l;
  let oo = P.oOff + (g / P.H) * P.ldo + (g % P.H) * P.D;
  for (var d = lid; d < P.D; d += WG) {
    var a = 0.0;
    for (var s = 0u; s < P.S; s++) {
      let b = first + s * stride;
      a = a + exp(partIn[b] - M) * partIn[b + 2u + d];
    }
    o[oo + d] = a * inv;
  }
}

// simple: one invocation per (t, h), no workgroup memory or barriers, for software adapters (where a
// barrier costs more than a chunk of keys): the same online softmax key by key, accumulators in a
// private array (D <= 256).
@compute @workgroup_size(64)
fn simple(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let g = gid.x + gid.y * nwg.x * 64u;
  if (g >= P.T * P.H) { return; }
  let t = g / P.H;
  let h = g % P.H;
  let kvh = h / (P.H / P.Hkv);
  let D = P.D;
  let qo = P.qOff + t * P.ldq + h * D;
  let ldkv = P.Hkv * D;
  let n = P.pos0 + t + 1u;
  var acc: array<f32, 256>;
  for (var d = 0u; d < D; d += 1u) { acc[d] = 0.0; }
  var m = NEG;
  var l = 0.0;
  for (var j = 0u; j < n; j += 1u) {
    let ko = j * ldkv + kvh * D;
    var s = 0.0;
    for (var d = 0u; d < D; d += 1u) { s = s + q[qo + d] * kc[ko + d]; }
    s = s * P.scale;
    if (s > m) {
      let corr = exp(m - s);
      l = l * corr;
      for (var d = 0u; d < D; d += 1u) { acc[d] = acc[d] * corr; }
      m = s;
    }
    let p = exp(s - m);
    l = l + p;
    for (var d = 0u; d < D; d += 1u) { acc[d] = acc[d] + p * vc[ko + d]; }
  }
  let oo = P.oOff + t * P.ldo + h * D;
  for (var d = 0u; d < D; d += 1u) { o[oo + d] = acc[d] / l; }
}
