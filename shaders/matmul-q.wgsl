// Matmul with packed GGUF weights, and the embedding gather of a packed table.
//
//   matmul:   y[m, yOff + n] (+)= sum_k x[xOff + m * ldx + k] * dequant(W)[rowOff + n, k] (+ bias[biasOff + n])
//             x [M, K] f32, W [rows, K] in GGUF type FMT (exact file bytes), y [M, N] f32, N <= rows.
//   get_rows: out[t, c] = dequant(W)[ids[t], c]   (t < T, c < K): token embeddings from a packed table.
//
// Formats follow ggml (ggml-common.h block structs, ggml-quants.c dequantize_row_*; layouts also in
// /work/shared/refs/gguf-quant-vectors/README.md). FMT is the GGML type id and is an override
// constant, so every format is its own specialised pipeline and the per-element decode has no
// runtime format branch. Supported: F32 0, F16 1, BF16 30, Q4_0 2, Q4_1 3, Q5_0 6, Q5_1 7, Q8_0 8,
// Q2_K 10, Q3_K 11, Q4_K 12, Q5_K 13, Q6_K 14.
//
// W is bound as array<u32> holding the GGUF bytes unchanged (buffer padded to 4 bytes). Blocks of
// 18/22/34/110/210 bytes are not 4-byte aligned, so bytes, halves and words are read with shifts
// (rd_byte, rd_u16, rd_u32 below); f16 scales are decoded with integer ops (no shader-f16 needed,
// subnormals exact). Arithmetic is f32.
//
// Decode unit: 16 consecutive values of a row ("unit"); in every format the 16 values of a unit share
// one scale a and one offset b, and value = a * q + b with q an exact small integer (Q4_0: q - 8,
// Q3_K: low - 4 * !hbit, Q6_K: q - 32, ...), which is how ggml rounds: one product (plus the min).
// For F32/F16/BF16, q is the value itself, a = 1, b = 0, and units at the row end are masked.
//
// matmul organisation: one workgroup of WG (64) threads computes NR (4) consecutive outputs n for TM
// consecutive rows m of x: TM = 1 for decode (a matrix-vector product) and TM = 8 for prefill, so
// each decoded weight unit serves 8 tokens and W is read M / 8 times instead of M times. The WG / NR
// (16) lanes of one output row stride over its K / 16 units (adjacent lanes read adjacent bytes);
// per unit a lane decodes the weights once, then for each of the TM rows of x adds
// a * dot(q, x) + b * sum(x) to its accumulator (two vec4 for m = 0..7). One workgroup barrier, then
// one thread per (n, m) sums the 16 lane partials from workgroup memory and writes y (bias, accumulate).
// Workgroups: x (+ z) = groups of NR outputs (z splits past 65535), y = groups of TM rows of x.
// (An earlier layout, a per-thread array of NR x TM accumulators and a tree reduction over all 64
// threads, took about 3x longer to compile on SwiftShader; this one keeps the per-thread state small.)
//
// Entry `simple` (end of file): the barrier-free variant for software adapters, one invocation per
// output y[m, n], same semantics.

override FMT: u32 = 2u;
override WG: u32 = 64u;    // threads per workgroup, a power of two
override TM: u32 = 1u;     // rows of x per workgroup, 1..8
const NR: u32 = 4u;        // outputs (rows of W) per workgroup

// Params.flags
const F_BIAS: u32 = 1u;
const F_ACC: u32 = 2u;

struct Params {
  M: u32,        // rows of x (matmul) / T ids (get_rows)
  N: u32,        // outputs computed (matmul) / rows of the table (get_rows, for the bounds check)
  K: u32,        // row length of W
  rowOff: u32,   // first row of W used (matmul)
  rowBytes: u32, // bytes per row of W
  flags: u32,
  groupsX: u32,  // workgroups along x (to unflatten x + z)
  xOff: u32,
  ldx: u32,
  yOff: u32,
  ldy: u32,
  biasOff: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> W: array<u32>;
// matmul
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
// get_rows (same slots, other types: each entry point uses only its own)
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> rows_out: array<f32>;

// ---- byte access into the packed words ----------------------------------------------------------

fn rd_byte(off: u32) -> u32 {
  return (W[off >> 2u] >> ((off & 3u) * 8u)) & 0xffu;
}

// 16-bit little-endian value at an even byte offset (every f16 field of every block is at one).
fn rd_u16(off: u32) -> u32 {
  return (W[off >> 2u] >> ((off & 2u) * 8u)) & 0xffffu;
}

// 32-bit little-endian value at any byte offset. For formats whose blocks are a multiple of 4 bytes,
// every offset that unit_q passes is 4-aligned, so it is one load.
fn rd_u32(off: u32) -> u32 {
  if (block_aligned4()) {
    return W[off >> 2u];
  }
  let i = off >> 2u;
  let s = (off & 3u) * 8u;
  let lo = W[i] >> s;
  // s == 0: the shift amount 32 - s wraps to 0 in WGSL, so the select discards it.
  return select(lo | (W[i + 1u] << (32u - s)), lo, s == 0u);
}

fn f16_bits_to_f32(h: u32) -> f32 {
  let sign = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 0u) {
    // zero or subnormal: m * 2^-24 (exact in f32)
    let v = f32(m) * 5.9604644775390625e-8;
    return select(v, -v, sign != 0u);
  }
  let ex = select(e + 112u, 255u, e == 31u);
  return bitcast<f32>(sign | (ex << 23u) | (m << 13u));
}

fn rd_f16(off: u32) -> f32 {
  return f16_bits_to_f32(rd_u16(off));
}

// The 4 bytes of w as unsigned integers, in memory order.
fn bytes4(w: u32) -> vec4<u32> {
  return (vec4<u32>(w) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(0xffu);
}

// Field i (width `bits`, starting at bit `shift`) of each of the 4 bytes of w.
fn fields4(w: u32, shift: u32, mask: u32) -> vec4<u32> {
  return (vec4<u32>(w) >> (vec4<u32>(0u, 8u, 16u, 24u) + vec4<u32>(shift))) & vec4<u32>(mask);
}

// Bits j, j+1, j+2, j+3 of v.
fn bits4(v: u32, j: u32) -> vec4<u32> {
  return (vec4<u32>(v) >> (vec4<u32>(0u, 1u, 2u, 3u) + vec4<u32>(j))) & vec4<u32>(1u);
}

// ---- format geometry ----------------------------------------------------------------------------

fn is_plain() -> bool {
  return FMT == 0u || FMT == 1u || FMT == 30u;
}

// Whether value = a * q + b has a non-zero b (formats with a min).
fn has_min() -> bool {
  return FMT == 3u || FMT == 7u || FMT == 10u || FMT == 12u || FMT == 13u;
}

fn block_bytes() -> u32 {
  switch FMT {
    case 2u: { return 18u; }
    case 3u: { return 20u; }
    case 6u: { return 22u; }
    case 7u: { return 24u; }
    case 8u: { return 34u; }
    case 10u: { return 84u; }
    case 11u: { return 110u; }
    case 12u: { return 144u; }
    case 13u: { return 176u; }
    case 14u: { return 210u; }
    default: { return 0u; }
  }
}

// Blocks of 20, 24, 84, 144 or 176 bytes (Q4_1, Q5_1, Q2_K, Q4_K, Q5_K): every row and block starts
// on a 4-byte boundary.
fn block_aligned4() -> bool {
  return FMT == 3u || FMT == 7u || FMT == 10u || FMT == 12u || FMT == 13u;
}

// 16-value units per block: 2 for 32-value blocks, 16 for 256-value super-blocks.
fn units_per_block() -> u32 {
  return select(2u, 16u, FMT >= 10u && FMT <= 14u);
}

// Q4_K / Q5_K: 6-bit scale and min of sub-block j (0..7), from the 12 bytes at sb (get_scale_min_k4).
fn scale_min_k4(sb: u32, j: u32) -> vec2<u32> {
  if (j < 4u) {
    return vec2<u32>(rd_byte(sb + j) & 63u, rd_byte(sb + j + 4u) & 63u);
  }
  let hi = rd_byte(sb + j + 4u);
  let sc = (hi & 15u) | ((rd_byte(sb + j - 4u) >> 6u) << 4u);
  let mn = (hi >> 4u) | ((rd_byte(sb + j) >> 6u) << 4u);
  return vec2<u32>(sc, mn);
}

// Scale a and offset b of unit u (values 16u .. 16u + 15) of the row starting at byte rb.
fn unit_scale(rb: u32, u: u32) -> vec2<f32> {
  if (is_plain()) {
    return vec2<f32>(1.0, 0.0);
  }
  let s = u % units_per_block();
  let bb = rb + (u / units_per_block()) * block_bytes();
  switch FMT {
    case 2u, 6u, 8u: {   // Q4_0, Q5_0, Q8_0: d
      return vec2<f32>(rd_f16(bb), 0.0);
    }
    case 3u, 7u: {       // Q4_1, Q5_1: d, m
      return vec2<f32>(rd_f16(bb), rd_f16(bb + 2u));
    }
    case 10u: {          // Q2_K: scales[16] at 0, d at 80, dmin at 82
      let sc = rd_byte(bb + s);
      return vec2<f32>(rd_f16(bb + 80u) * f32(sc & 15u), -(rd_f16(bb + 82u) * f32(sc >> 4u)));
    }
    case 11u: {          // Q3_K: 6-bit scales packed in 12 bytes at 96, d at 108
      let lo = (rd_byte(bb + 96u + (s & 7u)) >> ((s >> 3u) * 4u)) & 15u;
      let hi = (rd_byte(bb + 104u + (s & 3u)) >> ((s >> 2u) * 2u)) & 3u;
      return vec2<f32>(rd_f16(bb + 108u) * f32(i32(lo | (hi << 4u)) - 32), 0.0);
    }
    case 12u, 13u: {     // Q4_K, Q5_K: d 0, dmin 2, scales 4..15; sub-block of 32 = s / 2
      let sm = scale_min_k4(bb + 4u, s >> 1u);
      return vec2<f32>(rd_f16(bb) * f32(sm.x), -(rd_f16(bb + 2u) * f32(sm.y)));
    }
    case 14u: {          // Q6_K: int8 scales[16] at 192, d at 208
      let sc = bitcast<i32>(rd_byte(bb + 192u + s) << 24u) >> 24u;
      return vec2<f32>(rd_f16(bb + 208u) * f32(sc), 0.0);
    }
    default: {
      return vec2<f32>(0.0, 0.0);
    }
  }
}

// Plain formats: value k of the row at byte rb (0 beyond K).
fn plain_value(rb: u32, k: u32) -> f32 {
  if (k >= P.K) {
    return 0.0;
  }
  switch FMT {
    case 0u: { return bitcast<f32>(W[(rb >> 2u) + k]); }
    case 1u: { return rd_f16(rb + 2u * k); }
    default: { return bitcast<f32>(rd_u16(rb + 2u * k) << 16u); }   // BF16
  }
}

// The integers q of values 16u + 4g .. 16u + 4g + 3 (g = 0..3) of the row at byte rb, as f32.
fn unit_q(rb: u32, u: u32, g: u32) -> vec4<f32> {
  if (is_plain()) {
    let k = 16u * u + 4u * g;
    return vec4<f32>(plain_value(rb, k), plain_value(rb, k + 1u), plain_value(rb, k + 2u), plain_value(rb, k + 3u));
  }
  let s = u % units_per_block();
  let bb = rb + (u / units_per_block()) * block_bytes();
  switch FMT {
    case 8u: {    // Q8_0: d, int8 qs[32] at 2
      let b = bytes4(rd_u32(bb + 2u + 16u * s + 4u * g));
      return vec4<f32>(bitcast<vec4<i32>>(b << vec4<u32>(24u)) >> vec4<u32>(24u));
    }
    case 2u: {    // Q4_0: qs[16] at 2; unit 0 = low nibbles, unit 1 = high nibbles
      let q = fields4(rd_u32(bb + 2u + 4u * g), 4u * s, 15u);
      return vec4<f32>(bitcast<vec4<i32>>(q) - vec4<i32>(8));
    }
    case 3u: {    // Q4_1: qs at 4
      return vec4<f32>(fields4(rd_u32(bb + 4u + 4u * g), 4u * s, 15u));
    }
    case 6u: {    // Q5_0: qh (u32) at 2, qs at 6; bit i of qh is the 5th bit of value i
      let lo = fields4(rd_u32(bb + 6u + 4u * g), 4u * s, 15u);
      let hi = bits4(rd_u32(bb + 2u), 16u * s + 4u * g);
      return vec4<f32>(bitcast<vec4<i32>>(lo | (hi << vec4<u32>(4u))) - vec4<i32>(16));
    }
    case 7u: {    // Q5_1: qh at 4, qs at 8
      let lo = fields4(rd_u32(bb + 8u + 4u * g), 4u * s, 15u);
      let hi = bits4(rd_u32(bb + 4u), 16u * s + 4u * g);
      return vec4<f32>(lo | (hi << vec4<u32>(4u)));
    }
    case 10u: {   // Q2_K: qs[64] at 16; value 128h + 32j + l = (qs[32h + l] >> 2j) & 3
      let h = s >> 3u;
      let j = (s >> 1u) & 3u;
      let l = 16u * (s & 1u) + 4u * g;
      return vec4<f32>(fields4(rd_u32(bb + 16u + 32u * h + l), 2u * j, 3u));
    }
    case 11u: {   // Q3_K: hmask[32] at 0, qs[64] at 32; q = low2 - (hmask bit (i / 32) set ? 0 : 4)
      let h = s >> 3u;
      let j = (s >> 1u) & 3u;
      let l = 16u * (s & 1u) + 4u * g;
      let lo = fields4(rd_u32(bb + 32u + 32u * h + l), 2u * j, 3u);
      let hb = fields4(rd_u32(bb + l), 4u * h + j, 1u);
      return vec4<f32>(bitcast<vec4<i32>>(lo + (hb << vec4<u32>(2u))) - vec4<i32>(4));
    }
    case 12u: {   // Q4_K: qs[128] at 16; sub-block j: bytes 32 (j / 2) .., low nibble if j even
      let j = s >> 1u;
      let l = 16u * (s & 1u) + 4u * g;
      return vec4<f32>(fields4(rd_u32(bb + 16u + 32u * (j >> 1u) + l), 4u * (j & 1u), 15u));
    }
    case 13u: {   // Q5_K: qh[32] at 16 (bit j of qh[l]), qs[128] at 48
      let j = s >> 1u;
      let l = 16u * (s & 1u) + 4u * g;
      let lo = fields4(rd_u32(bb + 48u + 32u * (j >> 1u) + l), 4u * (j & 1u), 15u);
      let hi = fields4(rd_u32(bb + 16u + l), j, 1u);
      return vec4<f32>(lo | (hi << vec4<u32>(4u)));
    }
    case 14u: {   // Q6_K: ql[128] at 0, qh[64] at 128; value 128h + 32c + l
      let h = s >> 3u;
      let c = (s >> 1u) & 3u;
      let l = 16u * (s & 1u) + 4u * g;
      let lo = fields4(rd_u32(bb + 64u * h + 32u * (c & 1u) + l), 4u * (c >> 1u), 15u);
      let hi = fields4(rd_u32(bb + 128u + 32u * h + l), 2u * c, 3u);
      return vec4<f32>(bitcast<vec4<i32>>(lo | (hi << vec4<u32>(4u))) - vec4<i32>(32));
    }
    default: {
      return vec4<f32>(0.0);
    }
  }
}

// ---- matmul -------------------------------------------------------------------------------------

// x[m, k .. k + 3] (masked at the row end for plain formats, whose K need not be a multiple of 4).
fn x4(m: u32, k: u32) -> vec4<f32> {
  let i = P.xOff + m * P.ldx + k;
  if (is_plain()) {
    return vec4<f32>(
      select(0.0, x[i], k < P.K), select(0.0, x[i + 1u], k + 1u < P.K),
      select(0.0, x[i + 2u], k + 2u < P.K), select(0.0, x[i + 3u], k + 3u < P.K));
  }
  return vec4<f32>(x[i], x[i + 1u], x[i + 2u], x[i + 3u]);
}

// sum over the 16 values of unit u of x[m, k] * dequant(W)[row, k], given the row's decoded unit:
// scale/offset ab and integers q0..q3 (values 0-3, 4-7, 8-11, 12-15). a * dot(q, x) + b * sum(x).
fn unit_dot(ab: vec2<f32>, q0: vec4<f32>, q1: vec4<f32>, q2: vec4<f32>, q3: vec4<f32>, m: u32, u: u32) -> f32 {
  let xa = x4(m, 16u * u);
  let xb = x4(m, 16u * u + 4u);
  let xc = x4(m, 16u * u + 8u);
  let xd = x4(m, 16u * u + 12u);
  var v = ab.x * (dot(q0, xa) + dot(q1, xb) + dot(q2, xc) + dot(q3, xd));
  if (has_min()) {
    v += ab.y * dot(xa + xb + xc + xd, vec4<f32>(1.0));
  }
  return v;
}

// Writes output (m, n) = v (+ bias) (+ the old y): the epilogue of both matmul entry points.
fn store_y(m: u32, n: u32, acc: f32) {
  var v = acc;
  if ((P.flags & F_BIAS) != 0u) {
    v += bias[P.biasOff + n];
  }
  let yi = P.yOff + m * P.ldy + n;
  if ((P.flags & F_ACC) != 0u) {
    v = y[yi] + v;
  }
  y[yi] = v;
}

// Partial sums [r][m][lane] of the NR rows, TM rows of x and WG / NR lanes.
var<workgroup> red: array<f32, WG * TM>;

@compute @workgroup_size(WG)
fn matmul(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let tpr = WG / NR;              // lanes (threads) per output row
  let r = tid / tpr;
  let lane = tid % tpr;
  let n0 = (wid.x + wid.z * P.groupsX) * NR;
  let m0 = wid.y * TM;
  let nUnits = (P.K + 15u) / 16u;
  // Rows past N repeat the last row (their sums are dropped), so every lane runs the same loop.
  let rb = (P.rowOff + min(n0 + r, P.N - 1u)) * P.rowBytes;

  var acc0 = vec4<f32>(0.0);      // m = 0..3
  var acc1 = vec4<f32>(0.0);      // m = 4..7
  for (var u = lane; u < nUnits; u += tpr) {
    let ab = unit_scale(rb, u);
    let q0 = unit_q(rb, u, 0u);
    let q1 = unit_q(rb, u, 1u);
    let q2 = unit_q(rb, u, 2u);
    let q3 = unit_q(rb, u, 3u);
    for (var m = 0u; m < TM; m++) {
      if (m0 + m < P.M) {
        let v = unit_dot(ab, q0, q1, q2, q3, m0 + m, u);
        if (m < 4u) {
          acc0[m] += v;
        } else {
          acc1[m - 4u] += v;
        }
      }
    }
  }

  for (var m = 0u; m < TM; m++) {
    red[(r * TM + m) * tpr + lane] = select(acc1[m & 3u], acc0[m & 3u], m < 4u);
  }
  workgroupBarrier();

  // One thread per (row, m) output sums the lanes.
  if (tid < NR * TM) {
    let n = n0 + tid / TM;
    let m = m0 + tid % TM;
    if (n < P.N && m < P.M) {
      var v = 0.0;
      for (var l = 0u; l < tpr; l++) {
        v += red[tid * tpr + l];
      }
      store_y(m, n, v);
    }
  }
}

// ---- simple: the barrier-free matmul for software adapters ----------------------------------------

// Same product and epilogue as `matmul`, one invocation per output y[m, n], no workgroup memory and
// no barrier: the invocation walks the K / 16 units of row n with the decoders above (unit_scale,
// unit_q) and sums unit_dot in order. This is the variant for software adapters (SwiftShader, WARP,
// llvmpipe), where a workgroup barrier costs far more than the arithmetic it shares (cf.
// matmul-simple.wgsl for f32 weights). Flat index i = m * N + n over a 2D grid of WG-thread groups,
// so neighbouring invocations read the same x row and neighbouring W rows.
@compute @workgroup_size(WG)
fn simple(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= P.M * P.N) {
    return;
  }
  let m = i / P.N;
  let n = i % P.N;
  let rb = (P.rowOff + n) * P.rowBytes;
  let nUnits = (P.K + 15u) / 16u;
  var acc = 0.0;
  for (var u = 0u; u < nUnits; u++) {
    let ab = unit_scale(rb, u);
    acc += unit_dot(ab, unit_q(rb, u, 0u), unit_q(rb, u, 1u), unit_q(rb, u, 2u), unit_q(rb, u, 3u), m, u);
  }
  store_y(m, n, acc);
}

// ---- get_rows -----------------------------------------------------------------------------------

// One thread per 4 values of one output row: out[t, 4c .. 4c + 3] (P.M = T, P.K = cols).
// Workgroups: x = groups of WG * 4 columns, y (+ z) = tokens t (z splits past 65535).
@compute @workgroup_size(WG)
fn get_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = wid.y + wid.z * P.groupsX;
  let k = 4u * gid.x;
  if (t >= P.M || k >= P.K) {
    return;
  }
  let row = ids[t];
  let o = t * P.K + k;
  if (row >= P.N) {
    // An id outside the table: zeros rather than another row's bytes.
    for (var i = 0u; i < 4u && k + i < P.K; i++) {
      rows_out[o + i] = 0.0;
    }
    return;
  }
  let rb = row * P.rowBytes;
  if (is_plain()) {
    // Stored as read: no arithmetic, so f32/bf16 subnormals are not flushed.
    for (var i = 0u; i < 4u && k + i < P.K; i++) {
      rows_out[o + i] = plain_value(rb, k + i);
    }
    return;
  }
  let u = k / 16u;
  let ab = unit_scale(rb, u);
  var v = ab.x * unit_q(rb, u, (k / 4u) % 4u);
  if (has_min()) {
    v += vec4<f32>(ab.y);
  }
  rows_out[o] = v.x;
  rows_out[o + 1u] = v.y;
  rows_out[o + 2u] = v.z;
  rows_out[o + 3u] = v.w;
}
