// Backward of rotary position embedding (Su et al. 2021, arXiv 2104.09864), in place on dy [T, H, D]
// (contiguous) for positions pos0 + t. The forward rotates each pair (a, b) by the angle of
// (c, s) = table[pos][i]: (a c - b s, a s + b c); it is orthogonal, so the backward applies the
// transpose, the rotation by -angle: (a, b) -> (a c + b s, -a s + b c). Channels >= dim pass through.
//   form 0 'adjacent': pairs (2i, 2i+1);  form 1 'half': pairs (i, i + dim/2).
// One invocation per (token, head, pair); same f32 cos/sin table as shaders/rope.wgsl
// (src/core/ops/rope-table.ts). Reference: src/core/grad/ops/rope.ts (ropeBackward).

struct Params { T: u32, H: u32, D: u32, dim: u32, pos0: u32, form: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> table: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let half = P.dim / 2u;
  let idx = gid.x + gid.y * nwg.x * 64u;
  if (idx >= P.T * P.H * half) { return; }
  let i = idx % half;
  let h = (idx / half) % P.H;
  let t = idx / (half * P.H);
  let cs = table[(P.pos0 + t) * half + i];
  var ia = 2u * i;
  var ib = 2u * i + 1u;
  if (P.form == 1u) { ia = i; ib = i + half; }
  let base = (t * P.H + h) * P.D;
  let a = x[base + ia];
  let b = x[base + ib];
  x[base + ia] = a * cs.x + b * cs.y;
  x[base + ib] = b * cs.x - a * cs.y;
}
