// Per-row cosine similarity, f32 (for ShortGPT-style Block Influence, Men et al. 2024,
// arXiv 2403.03853): a, b [T, C] -> out[outOff + t] = <a[t], b[t]> / (||a[t]|| ||b[t]||), clamped to
// [-1, 1]; a zero-norm row gives 1 (convention of src/core/metrics/cos.ts). Row t of a at
// aOff + t * lda (likewise b). One workgroup (256 threads) per row: strided partial (dot, |a|^2, |b|^2),
// one tree reduction of the three in workgroup memory. The norms are multiplied as sqrt * sqrt so
// large activations cannot overflow the product. Workgroup ids flattened (x + y * num_workgroups.x).
// Reference: src/core/ops/cosine.ts.

struct Params { T: u32, C: u32, aOff: u32, lda: u32, bOff: u32, ldb: u32, outOff: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const WG: u32 = 256u;
var<workgroup> red: array<vec4<f32>, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = wid.x + wid.y * nwg.x;
  if (t >= P.T) { return; }
  let ao = P.aOff + t * P.lda;
  let bo = P.bOff + t * P.ldb;
  var s = vec4<f32>(0.0);
  for (var c = lid; c < P.C; c += WG) {
    let x = a[ao + c];
    let y = b[bo + c];
    s = s + vec4<f32>(x * y, x * x, y * y, 0.0);
  }
  red[lid] = s;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k = k / 2u) {
    if (lid < k) { red[lid] = red[lid] + red[lid + k]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let r = red[0];
    var cs = 1.0;
    if (r.y > 0.0 && r.z > 0.0) { cs = clamp(r.x / (sqrt(r.y) * sqrt(r.z)), -1.0, 1.0); }
    out[P.outOff + t] = cs;
  }
}
