// Linear layer, f32, one invocation per output and no workgroup memory or barriers:
// y[m, n] (+)= sum_k x[m, k] W[n, k] (+ bias[n]). Same operand addressing as matmul.wgsl (offsets and
// row strides in uniforms). This is the variant for software adapters (SwiftShader, WARP, llvmpipe),
// where workgroup barriers cost far more than the arithmetic they save; hardware adapters use the
// tiled/gemv kernels of matmul.wgsl. Reference: src/core/ops/matmul.ts.

struct Params {
  M: u32, N: u32, K: u32,
  ldx: u32, xOff: u32,
  ldw: u32, wOff: u32,
  ldy: u32, yOff: u32,
  biasOff: u32, flags: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> W: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= P.M * P.N) { return; }
  let m = i / P.N;
  let n = i % P.N;
  let xo = P.xOff + m * P.ldx;
  let wo = P.wOff + n * P.ldw;
  var acc = 0.0;
  var k = 0u;
  loop {
    if (k + 4u > P.K) { break; }
    acc = acc + dot(vec4<f32>(x[xo + k], x[xo + k + 1u], x[xo + k + 2u], x[xo + k + 3u]),
                    vec4<f32>(W[wo + k], W[wo + k + 1u], W[wo + k + 2u], W[wo + k + 3u]));
    k = k + 4u;
  }
  for (; k < P.K; k = k + 1u) { acc = acc + x[xo + k] * W[wo + k]; }
  if ((P.flags & 1u) != 0u) { acc = acc + bias[P.biasOff + n]; }
  let yi = P.yOff + m * P.ldy + n;
  if ((P.flags & 2u) != 0u) { acc = acc + y[yi]; }
  y[yi] = acc;
}
