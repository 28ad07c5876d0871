// Helpers of linear CKA on the GPU (Kornblith et al. 2019, "Similarity of Neural Network Representations
// Revisited", arXiv 1905.00414): CKA(X, Y) = <Kx, Ky>_F / (||Kx||_F ||Ky||_F), Kx = Xc Xc^T (Gram form) or
// ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F) (feature form). The products Xc Xc^T / Yc^T Xc run
// through the matmul kernels; this file holds the two memory-bound steps, both barrier-free (one
// invocation per column / row), so one version serves hardware and software adapters:
//   center:  X [rows = T, cols = C] at a[aOff..] -> out[outOff..] = X - column means over the T rows,
//            row-major [T, C], or transposed [C, T] when P.transposed = 1 (the feature form's layout).
//   row_dot: out[outOff + r] = sum_j a[aOff + r * cols + j] * b[bOff + r * cols + j], r < rows (f32 per
//            row; the host adds the rows in float64). a and b may be the same buffer.
// Reference: src/core/metrics/cka.ts (float64), via cpuActivationScanner in src/core/analysis/scans.ts.

struct Params { rows: u32, cols: u32, aOff: u32, bOff: u32, outOff: u32, transposed: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * 64u; }

@compute @workgroup_size(64)
fn center(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = flat(gid, nwg);
  if (c >= P.cols) { return; }
  var s = 0.0;
  for (var t = 0u; t < P.rows; t++) { s = s + a[P.aOff + t * P.cols + c]; }
  let m = s / f32(P.rows);
  for (var t = 0u; t < P.rows; t++) {
    let v = a[P.aOff + t * P.cols + c] - m;
    if (P.transposed == 1u) { out[P.outOff + c * P.rows + t] = v; } else { out[P.outOff + t * P.cols + c] = v; }
  }
}

@compute @workgroup_size(64)
fn row_dot(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = flat(gid, nwg);
  if (r >= P.rows) { return; }
  var s = 0.0;
  let ao = P.aOff + r * P.cols;
  let bo = P.bOff + r * P.cols;
  for (var j = 0u; j < P.cols; j++) { s = s + a[ao + j] * b[bo + j]; }
  out[P.outOff + r] = s;
}
