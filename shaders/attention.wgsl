// Causal self-attention with grouped-query heads over a KV cache, f32 (Vaswani et al. 2017; GQA:
// Ainslie et al. 2023, arXiv 2305.13245). q [T, H, D] holds positions pos0 .. pos0+T-1 (token t, head h
// at qOff + t * ldq + h * D); kc, vc [maxCtx, Hkv, D] already hold positions 0 .. pos0+T-1. For query
// head h (KV head h / (H / Hkv)):
//   o[t, h] = sum_{j <= pos0 + t} softmax_j(scale * q[t, h] . k[j]) v[j]     (o at oOff + t * ldo + h * D)
// One workgroup of 64 threads per (t, h); keys in chunks of 64 (one key per thread for the scores),
// online softmax (Milakov & Gimelshein 2018): running max m and denominator l, the output accumulators
// rescaled by exp(m_old - m_new) per chunk, so any context length works with fixed memory.
// Thread i accumulates output channels i, i + 64, i + 128, i + 192: D <= 256.
// Workgroup ids are flattened (x + y * num_workgroups.x). Reference: src/core/ops/attention.ts.

struct Params {
  T: u32, H: u32, Hkv: u32, D: u32, pos0: u32, scale: f32,
  qOff: u32, ldq: u32, oOff: u32, ldo: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> kc: array<f32>;
@group(0) @binding(3) var<storage, read> vc: array<f32>;
@group(0) @binding(4) var<storage, read_write> o: array<f32>;

const WG: u32 = 64u;
const MAXD: u32 = 256u;

var<workgroup> qs: array<f32, 256>;  // q[t, h]
var<workgroup> ps: array<f32, 64>;   // this chunk's exp(s - m)
var<workgroup> red: array<f32, 64>;

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

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= P.T * P.H) { return; }
  let t = g / P.H;
  let h = g % P.H;
  let kvh = h / (P.H / P.Hkv);
  let D = P.D;
  let kvRow = P.Hkv * D;  // elements per cache position
  let kvHead = kvh * D;
  let qo = P.qOff + t * P.ldq + h * D;
  for (var d = lid; d < D; d += WG) { qs[d] = q[qo + d]; }
  workgroupBarrier();

  let n = P.pos0 + t + 1u;  // keys 0 .. pos0 + t
  var m = -3.0e38;          // running max (finite: no inf arithmetic)
  var l = 0.0;              // running denominator
  var acc: array<f32, 4>;   // channels lid + 64 r
  for (var j0 = 0u; j0 < n; j0 += WG) {
    let j = j0 + lid;
    var s = -3.0e38;
    if (j < n) {
      let ko = j * kvRow + kvHead;
      var dotv = 0.0;
      for (var d = 0u; d < D; d++) { dotv = dotv + qs[d] * kc[ko + d]; }
      s = dotv * P.scale;
    }
    let mNew = max(m, wg_max(lid, s));
    var p = 0.0;
    if (j < n) { p = exp(s - mNew); }
    let alpha = exp(m - mNew);  // 0 on the first chunk (m = -3e38), 1 when the max did not change
    ps[lid] = p;
    l = l * alpha + wg_sum(lid, p);  // wg_sum's barriers also publish ps
    m = mNew;
    let cnt = min(WG, n - j0);
    for (var r = 0u; r < 4u; r++) {
      let d = lid + WG * r;
      if (d < D) {
        var a = acc[r] * alpha;
        for (var jj = 0u; jj < cnt; jj++) {
          a = a + ps[jj] * vc[(j0 + jj) * kvRow + kvHead + d];
        }
        acc[r] = a;
      }
    }
    workgroupBarrier();  // ps is rewritten by the next chunk
  }
  let oo = P.oOff + t * P.ldo + h * D;
  let inv = 1.0 / l;
  for (var r = 0u; r < 4u; r++) {
    let d = lid + WG * r;
    if (d < D) { o[oo + d] = acc[r] * inv; }
  }
}
