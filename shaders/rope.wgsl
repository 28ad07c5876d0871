// Rotary position embedding (Su et al. 2021, arXiv 2104.09864), in place on x [T, H, D] (head h of
// token t at xOff + t * ldx + h * D) for positions pos0 + t; only the first `dim` channels of each
// head rotate. For pair i < dim/2 with (c, s) = table[pos][i] (f32 cos/sin of pos * freq_i, built on
// the host by src/core/ops/rope-table.ts as llama2.c computes it):
//   form 0 'adjacent': channels (2i, 2i+1)      (GGUF / llama.cpp LLAMA, llama2.c)
//   form 1 'half':     channels (i, i + dim/2)  (Hugging Face rotate_half, llama.cpp NEOX)
//   (a, b) -> (a c - b s, a s + b c).
// Entry `main` rotates x; `main_qk` rotates x (H heads) and k (Hk heads, kOff / ldk) in one dispatch.
// One thread per (token, head, pair); ids flattened over x and y of the dispatch.
// Reference: src/core/ops/rope.ts.

struct Params {
  T: u32, H: u32, Hk: u32, D: u32, dim: u32, pos0: u32, form: u32,
  xOff: u32, ldx: u32, kOff: u32, ldk: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> table: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> k: array<f32>;

struct Pair { ia: u32, ib: u32, c: f32, s: f32 }

// Channel indices (relative to the head) and the rotation of work item `i` of token t.
fn pair_of(t: u32, i: u32) -> Pair {
  let half = P.dim / 2u;
  let cs = table[(P.pos0 + t) * half + i];
  if (P.form == 1u) { return Pair(i, i + half, cs.x, cs.y); }
  return Pair(2u * i, 2u * i + 1u, cs.x, cs.y);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let half = P.dim / 2u;
  let idx = gid.x + gid.y * nwg.x * 64u;
  if (idx >= P.T * P.H * half) { return; }
  let i = idx % half;
  let h = (idx / half) % P.H;
  let t = idx / (half * P.H);
  let p = pair_of(t, i);
  let base = P.xOff + t * P.ldx + h * P.D;
  let a = x[base + p.ia];
  let b = x[base + p.ib];
  x[base + p.ia] = a * p.c - b * p.s;
  x[base + p.ib] = a * p.s + b * p.c;
}

@compute @workgroup_size(64)
fn main_qk(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let half = P.dim / 2u;
  let idx = gid.x + gid.y * nwg.x * 64u;
  let heads = P.H + P.Hk;
  if (idx >= P.T * heads * half) { return; }
  let i = idx % half;
  let h = (idx / half) % heads;
  let t = idx / (half * heads);
  let p = pair_of(t, i);
  if (h < P.H) {
    let base = P.xOff + t * P.ldx + h * P.D;
    let a = x[base + p.ia];
    let b = x[base + p.ib];
    x[base + p.ia] = a * p.c - b * p.s;
    x[base + p.ib] = a * p.s + b * p.c;
  } else {
    let base = P.kOff + t * P.ldk + (h - P.H) * P.D;
    let a = k[base + p.ia];
    let b = k[base + p.ib];
    k[base + p.ia] = a * p.c - b * p.s;
    k[base + p.ib] = a * p.s + b * p.c;
  }
}
