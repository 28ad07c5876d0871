// Linear layer, f32: y[M, N] = x[M, K] @ W^T (+ bias[N]) (+ y if accumulating), W[N, K] row-major
// (out, in), as PyTorch nn.Linear / GGUF / llama2.c store it. Reference: src/core/ops/matmul.ts.
//
// Every operand is addressed through an element offset and a row stride (uniforms), so a kernel can
// read a row slice of a fused matrix (W rows r0..r0+N: wOff = r0 * ldw) and write into columns of a
// wider buffer (y[m, yOff + n] with ldy = total width).
//
// Entry points (same bindings; the *_vec4 forms read x and W as vec4 and need K, ldx, xOff, ldw, wOff
// all multiples of 4):
//   tiled, tiled_vec4: 64x64 output tile per workgroup of 16x16 threads, 4x4 outputs per thread,
//     K in steps of 16 through workgroup memory. Workgroup ids are flattened (x + y * num_workgroups.x)
//     so more than 65535 tiles can be dispatched.
//   gemv, gemv_vec4: for few rows M (decode): 4 output columns per workgroup, 64 threads each striding
//     over K, a tree reduction in workgroup memory; up to 4 rows m per workgroup (z = m / 4).
// flags: bit 0 = add bias[biasOff + n]; bit 1 = accumulate (y += result instead of y = result).

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
// The same bindings seen as vec4 (used only by the *_vec4 entry points).
@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> W4: array<vec4<f32>>;

fn store_y(m: u32, n: u32, v: f32) {
  var r = v;
  if ((P.flags & 1u) != 0u) { r = r + bias[P.biasOff + n]; }
  let i = P.yOff + m * P.ldy + n;
  if ((P.flags & 2u) != 0u) { r = y[i] + r; }
  y[i] = r;
}

// ---- tiled ------------------------------------------------------------------------------------

const TS: u32 = 64u;  // output tile edge (rows m and columns n)
const TK: u32 = 16u;  // K step

var<workgroup> xs: array<f32, 1024>;  // [k][m], TK x TS
var<workgroup> ws: array<f32, 1024>;  // [k][n], TK x TS

struct Tile { m0: u32, n0: u32, ok: bool }

fn tile_of(wid: vec3<u32>, nwg: vec3<u32>) -> Tile {
  let tilesN = (P.N + TS - 1u) / TS;
  let tilesM = (P.M + TS - 1u) / TS;
  let t = wid.x + wid.y * nwg.x;
  return Tile((t / tilesN) * TS, (t % tilesN) * TS, t < tilesN * tilesM);
}

// Inner product of the staged tiles: thread (tx, ty) owns rows ty + 16 i and columns tx + 16 j.
fn tile_fma(tx: u32, ty: u32, acc: ptr<function, array<f32, 16>>) {
  for (var kk = 0u; kk < TK; kk++) {
    var a: array<f32, 4>;
    var b: array<f32, 4>;
    for (var i = 0u; i < 4u; i++) {
      a[i] = xs[kk * TS + ty + 16u * i];
      b[i] = ws[kk * TS + tx + 16u * i];
    }
    for (var i = 0u; i < 4u; i++) {
      for (var j = 0u; j < 4u; j++) {
        (*acc)[i * 4u + j] = (*acc)[i * 4u + j] + a[i] * b[j];
      }
    }
  }
}

fn tile_store(m0: u32, n0: u32, tx: u32, ty: u32, acc: ptr<function, array<f32, 16>>) {
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + ty + 16u * i;
    if (m >= P.M) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + tx + 16u * j;
      if (n < P.N) { store_y(m, n, (*acc)[i * 4u + j]); }
    }
  }
}

@compute @workgroup_size(16, 16)
fn tiled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_id) l: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let tile = tile_of(wid, nwg);
  if (!tile.ok) { return; }
  var acc: array<f32, 16>;
  let lr = li / 4u;         // row of the tile this thread stages (0..63)
  let lk = (li % 4u) * 4u;  // first of its 4 k (0, 4, 8, 12)
  let m = tile.m0 + lr;
  let n = tile.n0 + lr;
  for (var k0 = 0u; k0 < P.K; k0 += TK) {
    for (var c = 0u; c < 4u; c++) {
      let k = k0 + lk + c;
      var xv = 0.0;
      var wv = 0.0;
      if (k < P.K) {
        if (m < P.M) { xv = x[P.xOff + m * P.ldx + k]; }
        if (n < P.N) { wv = W[P.wOff + n * P.ldw + k]; }
      }
      xs[(lk + c) * TS + lr] = xv;
      ws[(lk + c) * TS + lr] = wv;
    }
    workgroupBarrier();
    tile_fma(l.x, l.y, &acc);
    workgroupBarrier();
  }
  tile_store(tile.m0, tile.n0, l.x, l.y, &acc);
}

@compute @workgroup_size(16, 16)
fn tiled_vec4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_id) l: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let tile = tile_of(wid, nwg);
  if (!tile.ok) { return; }
  var acc: array<f32, 16>;
  let lr = li / 4u;
  let lk = (li % 4u) * 4u;
  let m = tile.m0 + lr;
  let n = tile.n0 + lr;
  for (var k0 = 0u; k0 < P.K; k0 += TK) {
    let k = k0 + lk;  // K % 4 == 0, so k < K means k..k+3 are all in range
    var xv = vec4<f32>(0.0);
    var wv = vec4<f32>(0.0);
    if (k < P.K) {
      if (m < P.M) { xv = x4[(P.xOff + m * P.ldx + k) / 4u]; }
      if (n < P.N) { wv = W4[(P.wOff + n * P.ldw + k) / 4u]; }
    }
    for (var c = 0u; c < 4u; c++) {
      xs[(lk + c) * TS + lr] = xv[c];
      ws[(lk + c) * TS + lr] = wv[c];
    }
    workgroupBarrier();
    tile_fma(l.x, l.y, &acc);
    workgroupBarrier();
  }
  tile_store(tile.m0, tile.n0, l.x, l.y, &acc);
}

// ---- gemv (few rows) --------------------------------------------------------------------------

const GR: u32 = 4u;   // output columns n per workgroup
const GL: u32 = 64u;  // threads per column

var<workgroup> red: array<vec4<f32>, 256>;  // partial sums, one vec4 (4 rows m) per thread

fn gemv_finish(n: u32, mBase: u32, lane: u32, li: u32, acc: vec4<f32>) {
  red[li] = acc;
  workgroupBarrier();
  for (var s = GL / 2u; s > 0u; s = s / 2u) {
    if (lane < s) { red[li] = red[li] + red[li + s]; }
    workgroupBarrier();
  }
  if (lane == 0u && n < P.N) {
    let r = red[li];
    for (var i = 0u; i < 4u; i++) {
      if (mBase + i < P.M) { store_y(mBase + i, n, r[i]); }
    }
  }
}

@compute @workgroup_size(256)
fn gemv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g * GR >= P.N) { return; }
  let n = g * GR + li / GL;
  let lane = li % GL;
  let mBase = wid.z * 4u;
  var acc = vec4<f32>(0.0);
  if (n < P.N) {
    let wrow = P.wOff + n * P.ldw;
    for (var k = lane; k < P.K; k += GL) {
      let w = W[wrow + k];
      for (var i = 0u; i < 4u; i++) {
        if (mBase + i < P.M) { acc[i] = acc[i] + w * x[P.xOff + (mBase + i) * P.ldx + k]; }
      }
    }
  }
  gemv_finish(n, mBase, lane, li, acc);
}

@compute @workgroup_size(256)
fn gemv_vec4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) li: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g * GR >= P.N) { return; }
  let n = g * GR + li / GL;
  let lane = li % GL;
  let mBase = wid.z * 4u;
  var acc = vec4<f32>(0.0);
  if (n < P.N) {
    let wrow = (P.wOff + n * P.ldw) / 4u;
    let K4 = P.K / 4u;
    for (var k = lane; k < K4; k += GL) {
      let w = W4[wrow + k];
      for (var i = 0u; i < 4u; i++) {
        if (mBase + i < P.M) { acc[i] = acc[i] + dot(w, x4[(P.xOff + (mBase + i) * P.ldx) / 4u + k]); }
      }
    }
  }
  gemv_finish(n, mBase, lane, li, acc);
}
