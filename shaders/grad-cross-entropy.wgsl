// Mean next-token cross-entropy and its gradient w.r.t. the logits, f32. logits [T, V], ids [T] (u32):
// row t < T-1 predicts ids[t + 1]; lse_t = log sum_i exp(logits[t, i]);
//   loss[t]       = (lse_t - logits[t, ids[t+1]]) / denom        (0 for the last row; the mean loss is
//                                                                  sum_t loss[t], summed on the host)
//   dlogits[t, i] = (exp(logits[t, i] - lse_t) - [i == ids[t+1]]) / denom,  dlogits[T-1, :] = 0.
// One invocation per row, plain loops. Reference: src/core/grad/ops/cross-entropy.ts.

struct Params { T: u32, V: u32, denom: f32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(4) var<storage, read_write> loss: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 64u;
  if (t >= P.T) { return; }
  let o = t * P.V;
  if (t + 1u >= P.T) {
    for (var i = 0u; i < P.V; i += 1u) { dlogits[o + i] = 0.0; }
    loss[t] = 0.0;
    return;
  }
  var m = logits[o];
  for (var i = 1u; i < P.V; i += 1u) { m = max(m, logits[o + i]); }
  var z = 0.0;
  for (var i = 0u; i < P.V; i += 1u) { z = z + exp(logits[o + i] - m); }
  let lse = m + log(z);
  let tgt = ids[t + 1u];
  for (var i = 0u; i < P.V; i += 1u) {
    var g = exp(logits[o + i] - lse);
    if (i == tgt) { g = g - 1.0; }
    dlogits[o + i] = g / P.denom;
  }
  loss[t] = (lse - logits[o + tgt]) / P.denom;
}
