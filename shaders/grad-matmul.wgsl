// Backward of the linear layer y[M, N] = x[M, K] W^T (W [N, K], the GGUF / PyTorch layout), f32:
//   entry `dx`: dX[m, k] = sum_n dY[m, n] W[n, k]      ([M, K], one invocation per output)
//   entry `dw`: dW[n, k] = sum_m dY[m, n] X[m, k]      ([N, K], one invocation per output)
// Plain loops, no workgroup memory (software adapters). Invocation ids flattened over x and y.
// Reference: src/core/grad/ops/linear.ts (linearBackward).

struct Params { M: u32, K: u32, N: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn dx(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= P.M * P.K) { return; }
  let m = i / P.K;
  let k = i % P.K;
  var acc = 0.0;
  for (var n = 0u; n < P.N; n += 1u) { acc = acc + dy[m * P.N + n] * src[n * P.K + k]; }
  out[i] = acc;
}

@compute @workgroup_size(64)
fn dw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= P.N * P.K) { return; }
  let n = i / P.K;
  let k = i % P.K;
  var acc = 0.0;
  for (var m = 0u; m < P.M; m += 1u) { acc = acc + dy[m * P.N + n] * src[m * P.K + k]; }
  out[i] = acc;
}
