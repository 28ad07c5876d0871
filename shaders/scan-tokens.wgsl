// Per-token sums of one block's residual-stream taps, for Block Influence / LIM (cosines; Men et al.
// 2024, arXiv 2403.03853; Dumitru et al. 2024, arXiv 2406.17415) and relative contribution (norm
// ratios; Csordas et al. 2025, arXiv 2505.13898). Rows t of hin, att (attn_out), mid, mlp (mlp_out),
// hout, each [T, C]; out[outOff + t * 9 + k] for k =
//   0 <in,out>  1 |in|^2  2 |out|^2  3 <in,mid>  4 |mid|^2  5 <mid,out>  6 |att|^2  7 |mlp|^2  8 |out-in|^2
// (f32 sums). flags: bit 0 mid bound, bit 1 att bound, bit 2 mlp bound; an unbound tap reads as zeros
// (its binding holds a placeholder). Cosines and ratios are formed on the host in float64
// (src/core/analysis/scans.ts, whose tokenSumsCpu is the reference).
// Entries: `main` one 64-thread workgroup per token (strided partial sums, one tree reduction);
// `simple` one invocation per token (no barriers: software adapters). Workgroup ids flattened.

struct Params { T: u32, C: u32, flags: u32, outOff: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> hin: array<f32>;
@group(0) @binding(2) var<storage, read> att: array<f32>;
@group(0) @binding(3) var<storage, read> mid: array<f32>;
@group(0) @binding(4) var<storage, read> mlp: array<f32>;
@group(0) @binding(5) var<storage, read> hout: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

const WG: u32 = 64u;
var<workgroup> r0: array<vec4<f32>, 64>;
var<workgroup> r1: array<vec4<f32>, 64>;
var<workgroup> r2: array<f32, 64>;

struct Acc { a: vec4<f32>, b: vec4<f32>, c: f32 }

fn add_channel(s: Acc, i: u32) -> Acc {
  let x = hin[i];
  let y = hout[i];
  var m = 0.0;
  var at = 0.0;
  var ml = 0.0;
  if ((P.flags & 1u) != 0u) { m = mid[i]; }
  if ((P.flags & 2u) != 0u) { at = att[i]; }
  if ((P.flags & 4u) != 0u) { ml = mlp[i]; }
  let d = y - x;
  var r = s;
  r.a = r.a + vec4<f32>(x * y, x * x, y * y, x * m);
  r.b = r.b + vec4<f32>(m * m, m * y, at * at, ml * ml);
  r.c = r.c + d * d;
  return r;
}

fn write_row(t: u32, s: Acc) {
  let o = P.outOff + t * 9u;
  out[o + 0u] = s.a.x;
  out[o + 1u] = s.a.y;
  out[o + 2u] = s.a.z;
  out[o + 3u] = s.a.w;
  out[o + 4u] = s.b.x;
  out[o + 5u] = s.b.y;
  out[o + 6u] = s.b.z;
  out[o + 7u] = s.b.w;
  out[o + 8u] = s.c;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = wid.x + wid.y * nwg.x;
  if (t >= P.T) { return; }
  var s = Acc(vec4<f32>(0.0), vec4<f32>(0.0), 0.0);
  for (var c = lid; c < P.C; c += WG) { s = add_channel(s, t * P.C + c); }
  r0[lid] = s.a;
  r1[lid] = s.b;
  r2[lid] = s.c;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k = k / 2u) {
    if (lid < k) {
      r0[lid] = r0[lid] + r0[lid + k];
      r1[lid] = r1[lid] + r1[lid + k];
      r2[lid] = r2[lid] + r2[lid + k];
    }
    workgroupBarrier();
  }
  if (lid == 0u) { write_row(t, Acc(r0[0], r1[0], r2[0])); }
}

@compute @workgroup_size(64)
fn simple(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 64u;
  if (t >= P.T) { return; }
  var s = Acc(vec4<f32>(0.0), vec4<f32>(0.0), 0.0);
  for (var c = 0u; c < P.C; c++) { s = add_channel(s, t * P.C + c); }
  write_row(t, s);
}
