// One pass of the weight statistics over a weight matrix W [rows, cols] (f32, row-major; element i in
// column i % cols), for Frobenius norm, Pearson kurtosis (KurtBoost, arXiv 2503.06518), the magnitude
// outlier share and OWL's Wanda outlier ratio (Yin et al. 2023, arXiv 2310.05175; Wanda score
// a = |w| * norms[col], Sun et al. 2023, arXiv 2306.11695) and ZD (Dumitru et al. 2024, arXiv 2406.17415).
// Each chunk of P.chunk elements writes 8 partials at out[outOff + chunk * 8 ..] (the host adds them in
// float64, slot 3 of pass 0 by max):
//   pass 0: [sum w, sum |w|, sum w^2, max |w|, sum a, 0, 0, 0]
//   pass 1 (p0 muT, p1 muL, p2 limT, p3 limL, p4 owlLim): [sum (w-muT)^2, sum (w-muT)^4, sum (w-muL)^2,
//           sum (w-muL)^4, #|w| > limT, #|w| > limL, #a > owlLim, 0]
//   pass 2 (p0 muT, p1 sigT, p2 muL, p3 sigL): [#|w-muT| > sigT, #|w-muL| > sigL, 0, 0, 0, 0, 0, 0]
// hasNorms = 0: a = 0 and the owl count 0 (norms binds a placeholder). Counts per chunk stay exact in
// f32 (chunk <= 4096). Reference: cpuWeightScanner in src/core/analysis/scans.ts.
// Entries: `main` one 256-thread workgroup per chunk of 4096 (strided partials, one tree reduction);
// `simple` one invocation per chunk of P.chunk (256) elements, no barriers (software adapters).

struct Params { n: u32, cols: u32, pass_: u32, hasNorms: u32, chunk: u32, outOff: u32, nChunks: u32, pad: u32,
                p0: f32, p1: f32, p2: f32, p3: f32, p4: f32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> norms: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const WG: u32 = 256u;
var<workgroup> ra: array<vec4<f32>, 256>;
var<workgroup> rb: array<vec4<f32>, 256>;

struct Acc { a: vec4<f32>, b: vec4<f32> }

fn add_elem(s: Acc, i: u32) -> Acc {
  let v = w[i];
  let av = abs(v);
  var sc = 0.0;
  if (P.hasNorms == 1u) { sc = av * norms[i % P.cols]; }
  var r = s;
  if (P.pass_ == 0u) {
    r.a = r.a + vec4<f32>(v, av, v * v, 0.0);
    r.a.w = max(r.a.w, av);
    r.b.x = r.b.x + sc;
  } else if (P.pass_ == 1u) {
    let dt = (v - P.p0) * (v - P.p0);
    let dl = (v - P.p1) * (v - P.p1);
    r.a = r.a + vec4<f32>(dt, dt * dt, dl, dl * dl);
    r.b = r.b + vec4<f32>(select(0.0, 1.0, av > P.p2), select(0.0, 1.0, av > P.p3),
                          select(0.0, 1.0, P.hasNorms == 1u && sc > P.p4), 0.0);
  } else {
    r.a = r.a + vec4<f32>(select(0.0, 1.0, abs(v - P.p0) > P.p1), select(0.0, 1.0, abs(v - P.p2) > P.p3), 0.0, 0.0);
  }
  return r;
}

fn combine(x: Acc, y: Acc) -> Acc {
  var r = Acc(x.a + y.a, x.b + y.b);
  if (P.pass_ == 0u) { r.a.w = max(x.a.w, y.a.w); }
  return r;
}

fn write_chunk(k: u32, s: Acc) {
  let o = P.outOff + k * 8u;
  out[o + 0u] = s.a.x;
  out[o + 1u] = s.a.y;
  out[o + 2u] = s.a.z;
  out[o + 3u] = s.a.w;
  out[o + 4u] = s.b.x;
  out[o + 5u] = s.b.y;
  out[o + 6u] = s.b.z;
  out[o + 7u] = s.b.w;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let k = wid.x + wid.y * nwg.x;
  if (k >= P.nChunks) { return; }
  let end = min(P.n, (k + 1u) * P.chunk);
  var s = Acc(vec4<f32>(0.0), vec4<f32>(0.0));
  for (var i = k * P.chunk + lid; i < end; i += WG) { s = add_elem(s, i); }
  ra[lid] = s.a;
  rb[lid] = s.b;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h / 2u) {
    if (lid < h) {
      let r = combine(Acc(ra[lid], rb[lid]), Acc(ra[lid + h], rb[lid + h]));
      ra[lid] = r.a;
      rb[lid] = r.b;
    }
    workgroupBarrier();
  }
  if (lid == 0u) { write_chunk(k, Acc(ra[0], rb[0])); }
}

@compute @workgroup_size(64)
fn simple(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = gid.x + gid.y * nwg.x * 64u;
  if (k >= P.nChunks) { return; }
  let end = min(P.n, (k + 1u) * P.chunk);
  var s = Acc(vec4<f32>(0.0), vec4<f32>(0.0));
  for (var i = k * P.chunk; i < end; i++) { s = add_elem(s, i); }
  write_chunk(k, s);
}
