// Backward of LayerNorm y[t, c] = (x[t, c] - mu_t) r_t w[c] + b[c], x [T, C], f32 (biased variance,
// r_t = 1 / sqrt(mean_c (x - mu)^2 + eps)), with xh = (x - mu) r and g = dy w:
//   entry `dx` (one invocation per row t):     dx = r (g - mean_c g - xh mean_c(g xh))
//   entry `dw` (one invocation per channel c): dw[c] = sum_t dy[t, c] xh[t, c]
//   entry `db` (one invocation per channel c): db[c] = sum_t dy[t, c]
// Plain loops, no workgroup memory. Reference: src/core/grad/ops/layer-norm.ts (layerNormBackward);
// LayerNorm: Ba et al. 2016, arXiv 1607.06450.

struct Params { T: u32, C: u32, eps: f32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;   // unused by `db`
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> w: array<f32>;   // read by `dx` only

// (mu, r) of row t.
fn stats(t: u32) -> vec2<f32> {
  let o = t * P.C;
  var s = 0.0;
  for (var c = 0u; c < P.C; c += 1u) { s = s + x[o + c]; }
  let mu = s / f32(P.C);
  var v = 0.0;
  for (var c = 0u; c < P.C; c += 1u) { let d = x[o + c] - mu; v = v + d * d; }
  return vec2<f32>(mu, inverseSqrt(v / f32(P.C) + P.eps));
}

@compute @workgroup_size(64)
fn dx(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 64u;
  if (t >= P.T) { return; }
  let o = t * P.C;
  let st = stats(t);
  var mg = 0.0;
  var mgx = 0.0;
  for (var c = 0u; c < P.C; c += 1u) {
    let g = dy[o + c] * w[c];
    mg = mg + g;
    mgx = mgx + g * (x[o + c] - st.x) * st.y;
  }
  mg = mg / f32(P.C);
  mgx = mgx / f32(P.C);
  for (var c = 0u; c < P.C; c += 1u) {
    let xh = (x[o + c] - st.x) * st.y;
    out[o + c] = st.y * (dy[o + c] * w[c] - mg - xh * mgx);
  }
}

@compute @workgroup_size(64)
fn dw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = gid.x + gid.y * nwg.x * 64u;
  if (c >= P.C) { return; }
  var acc = 0.0;
  for (var t = 0u; t < P.T; t += 1u) {
    let st = stats(t);
    acc = acc + dy[t * P.C + c] * (x[t * P.C + c] - st.x) * st.y;
  }
  out[c] = acc;
}

@compute @workgroup_size(64)
fn db(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = gid.x + gid.y * nwg.x * 64u;
  if (c >= P.C) { return; }
  var acc = 0.0;
  for (var t = 0u; t < P.T; t += 1u) { acc = acc + dy[t * P.C + c]; }
  out[c] = acc;
}
