// KV-cache append, f32: kc[pos0 + t, :, :] = k[t, :, :] and vc[pos0 + t, :, :] = v[t, :, :] for
// t < T, rows of Hkv * D values (cache layout [maxCtx, Hkv, D], row stride Hkv * D). Token t of k is
// read at kOff + t * ldk (likewise v), so k and v can be column slices of a fused QKV buffer.
// Consumer: shaders/attention.wgsl.
//
// main:  plain copy, one thread per value; ids flattened over x and y of the dispatch.
// quant: quantize-dequantize on write (K/V cache bits, KVTuner arXiv 2502.04420; scheme and reference in
//        src/core/ops/kv-quant.ts): per token, per KV head, groups of G values along head_dim; per group
//        lo = min, s = (max - lo) / (2^b - 1), q = clamp(floor((x - lo) / s + 0.5), 0, 2^b - 1),
//        x~ = lo + q * s (s == 0: unchanged); b >= 16 copies. One thread per (token, head, group),
//        doing the K group (kBits) and the V group (vBits).

struct Params { T: u32, row: u32, pos0: u32, kOff: u32, ldk: u32, vOff: u32, ldv: u32, D: u32, G: u32, kBits: u32, vBits: u32 }

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

@compute @workgroup_size(64)
fn quant(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * 64u;
  let gph = (P.D + P.G - 1u) / P.G; // groups per head
  let hkv = P.row / P.D;
  if (idx >= P.T * hkv * gph) { return; }
  let t = idx / (hkv * gph);
  let rem = idx % (hkv * gph);
  let h = rem / gph;
  let g0 = (rem % gph) * P.G;
  let n = min(P.G, P.D - g0);
  let c0 = h * P.D + g0;
  let dst = (P.pos0 + t) * P.row + c0;
  let ks = P.kOff + t * P.ldk + c0;
  let vs = P.vOff + t * P.ldv + c0;

  // K group.
  if (P.kBits >= 16u) {
    for (var i = 0u; i < n; i++) { kc[dst + i] = k[ks + i]; }
  } else {
    var lo = k[ks];
    var hi = k[ks];
    for (var i = 1u; i < n; i++) { lo = min(lo, k[ks + i]); hi = max(hi, k[ks + i]); }
    let levels = f32((1u << P.kBits) - 1u);
    let s = (hi - lo) / levels;
    for (var i = 0u; i < n; i++) {
      let x = k[ks + i];
      if (s == 0.0) { kc[dst + i] = x; } else {
        let q = clamp(floor((x - lo) / s + 0.5), 0.0, levels);
        kc[dst + i] = lo + q * s;
      }
    }
  }

  // V group.
  if (P.vBits >= 16u) {
    for (var i = 0u; i < n; i++) { vc[dst + i] = v[vs + i]; }
  } else {
    var lo = v[vs];
    var hi = v[vs];
    for (var i = 1u; i < n; i++) { lo = min(lo, v[vs + i]); hi = max(hi, v[vs + i]); }
    let levels = f32((1u << P.vBits) - 1u);
    let s = (hi - lo) / levels;
    for (var i = 0u; i < n; i++) {
      let x = v[vs + i];
      if (s == 0.0) { vc[dst + i] = x; } else {
        let q = clamp(floor((x - lo) / s + 0.5), 0.0, levels);
        vc[dst + i] = lo + q * s;
      }
    }
  }
}
