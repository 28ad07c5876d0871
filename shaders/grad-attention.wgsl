// Backward of causal grouped-query self-attention over positions 0..T-1 (Vaswani et al. 2017; GQA:
// Ainslie et al. 2023, arXiv 2305.13245), f32. q, dO [T, H, D]; k, v [T, Hkv, D]; query head h reads
// KV head h / (H / Hkv); probabilities / score gradients [H, T, T] (row t, column j, zero for j > t).
//   entry `probs` (per (h, t)):     p[h,t,j] = softmax_{j<=t}(scale q_t . k_j)             a=q b=k out=p
//   entry `ds`    (per (h, t)):     dP_j = dO_t . v_j, s = sum_j p_j dP_j,
//                                   ds[h,t,j] = scale p[h,t,j] (dP_j - s)                  a=dO b=v c=p out=ds
//   entry `dq`    (per (t, h, d)):  dq[t,h,d] = sum_{j<=t} ds[h,t,j] k[j,kvh,d]            a=ds b=k out=dq
//   entry `dkv`   (per (j, g, d)):  out[j,g,d] = sum_{h in group g} sum_{t>=j} M[h,t,j] A[t,h,d]
//                                   dk: M=ds, A=q;  dv: M=p, A=dO                           a=M b=A out
// One invocation per output row/element, plain loops, no barriers. Reference:
// src/core/grad/ops/attention.ts (attentionF64, attentionBackward).

struct Params { T: u32, H: u32, Hkv: u32, D: u32, scale: f32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> c: array<f32>;   // p, read by `ds` only

fn kvh(h: u32) -> u32 { return h / (P.H / P.Hkv); }

@compute @workgroup_size(64)
fn probs(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * 64u;
  if (idx >= P.H * P.T) { return; }
  let h = idx / P.T;
  let t = idx % P.T;
  let g = kvh(h);
  let qo = (t * P.H + h) * P.D;
  let po = idx * P.T;
  var m = -3.0e38;
  for (var j = 0u; j <= t; j += 1u) {
    let ko = (j * P.Hkv + g) * P.D;
    var s = 0.0;
    for (var d = 0u; d < P.D; d += 1u) { s = s + a[qo + d] * b[ko + d]; }
    s = s * P.scale;
    out[po + j] = s;
    m = max(m, s);
  }
  var z = 0.0;
  for (var j = 0u; j <= t; j += 1u) { let e = exp(out[po + j] - m); out[po + j] = e; z = z + e; }
  for (var j = 0u; j <= t; j += 1u) { out[po + j] = out[po + j] / z; }
  for (var j = t + 1u; j < P.T; j += 1u) { out[po + j] = 0.0; }
}

@compute @workgroup_size(64)
fn ds(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * 64u;
  if (idx >= P.H * P.T) { return; }
  let h = idx / P.T;
  let t = idx % P.T;
  let g = kvh(h);
  let qo = (t * P.H + h) * P.D;
  let po = idx * P.T;
  var s = 0.0;
  for (var j = 0u; j <= t; j += 1u) {
    let vo = (j * P.Hkv + g) * P.D;
    var dp = 0.0;
    for (var d = 0u; d < P.D; d += 1u) { dp = dp + a[qo + d] * b[vo + d]; }
    out[po + j] = dp;
    s = s + c[po + j] * dp;
  }
  for (var j = 0u; j <= t; j += 1u) { out[po + j] = P.scale * c[po + j] * (out[po + j] - s); }
  for (var j = t + 1u; j < P.T; j += 1u) { out[po + j] = 0.0; }
}

@compute @workgroup_size(64)
fn dq(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * 64u;
  if (idx >= P.T * P.H * P.D) { return; }
  let d = idx % P.D;
  let h = (idx / P.D) % P.H;
  let t = idx / (P.D * P.H);
  let g = kvh(h);
  let po = (h * P.T + t) * P.T;
  var acc = 0.0;
  for (var j = 0u; j <= t; j += 1u) { acc = acc + a[po + j] * b[(j * P.Hkv + g) * P.D + d]; }
  out[idx] = acc;
}

@compute @workgroup_size(64)
fn dkv(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * 64u;
  if (idx >= P.T * P.Hkv * P.D) { return; }
  let d = idx % P.D;
  let g = (idx / P.D) % P.Hkv;
  let j = idx / (P.D * P.Hkv);
  let group = P.H / P.Hkv;
  var acc = 0.0;
  for (var h = g * group; h < (g + 1u) * group; h += 1u) {
    for (var t = j; t < P.T; t += 1u) { acc = acc + a[(h * P.T + t) * P.T + j] * b[(t * P.H + h) * P.D + d]; }
  }
  out[idx] = acc;
}
