// The analysis' heavy scans on the GPU (issue 3): an ActivationScanner and a WeightScanner
// (src/core/analysis/scans.ts) over one GpuContext, injected into analyze() by the engine when the model
// runs on a GpuBackend. Only small arrays come back: [L, T, 9] per-token sums, (#pairs x T|C) CKA row
// partials, (#chunks x 8) weight partials; the host adds partials in float64 and forms the metrics.
//
// Activations: the taps arrive as host arrays (the backend reads them back for the other metrics). When
// the analysis runs its forwards through a DeviceTapCapture (below: the engine does so on a GpuBackend),
// the forwards' block taps stay on the device as well (GpuBackend.forwardOnDevice) and the scan reads
// those buffers (several texts are concatenated on the device), with no upload. Otherwise each block's
// [T, C] taps are uploaded once. Either way they are scanned (shaders/scan-tokens.wgsl) and, for CKA
// (Kornblith et al. 2019, arXiv 1905.00414), column-centred (shaders/scan-cka.wgsl) and turned into the
// Gram matrix K = Xc Xc^T [T, T] by the matmul kernels (T <= C, like metrics/cka.ts' 'auto'), or kept
// transposed [C, T] for the feature form (T > C: per pair the cross product Yc^T Xc [C, C] by matmul).
// Then one row-dot per pair of representations (CKA(in_l, out_l), CKA(out_i, out_j), and each one with
// itself for the norms). CKA is declined (null -> the CPU computes it) when the 2L representations would
// exceed maxCkaBytes or the device's binding limit.
//
// Weights: each block's dequantized f32 matrices are uploaded once (split by rows where a matrix exceeds
// the binding limit) and reduced in the three passes of shaders/scan-weights.wgsl. The effective rank
// stays on the CPU (Jacobi SVD in core/metrics/linalg.ts).
//
// `simple` (GpuBackend.simple: true on software adapters) selects the barrier-free kernel entries.
import { TOKEN_SUMS, WEIGHT_SUMS, type ActivationScan, type ActivationScanRequest, type ActivationScanner, type WeightScanBlock, type WeightScanTensor, type WeightScanner } from '../core/analysis/scans.ts';
import { tapName } from '../core/model/taps.ts';
import type { GpuContext } from './context.ts';
import type { Backend, Session } from '../core/model/backend.ts';
import type { ForwardOptions, ForwardResult } from '../core/model/taps.ts';
import type { GpuBackend } from './gpu-backend.ts';
import { encodeScanTokens } from './kernels/scan-tokens.ts';
import { encodeCenter, encodeRowDot } from './kernels/scan-cka.ts';
import { encodeScanWeights, scanWeightChunks } from './kernels/scan-weights.ts';
import { encodeMatmul } from './kernels/matmul.ts';

export interface GpuScannerOptions {
  /** Barrier-free kernels (software adapters). */
  simple?: boolean;
  /** Largest GPU memory for the 2L CKA representations (default 1 GiB); above it CKA stays on the CPU. */
  maxCkaBytes?: number;
  /** Cap on one binding's bytes below the device limit (tests use it to force split matrices). */
  maxBindingBytes?: number;
  /** Device copies of the forwards' taps (the analysis ran its forwards through this capture's backend). */
  deviceTaps?: DeviceTapCapture;
}

const SCAN_POINTS = ['in', 'attn_out', 'mid', 'mlp_out', 'out'] as const;

/**
 * Wraps a GpuBackend for analyze(): forwards that ask for taps (and no interventions) run through
 * GpuBackend.forwardOnDevice, return the usual host taps, and keep the block taps (blk.l.in / attn_out /
 * mid / mlp_out / out) on the device, in forward order, up to maxBytes (then nothing more is kept and
 * the scanner uploads as before). find() hands the scanner [T, C] device buffers for a request whose
 * taps are the concatenation of the kept forwards (checked: tap names, total T, and sampled values of
 * every part against the request's host arrays; any mismatch -> null, i.e. upload). release() frees all.
 */
export class DeviceTapCapture {
  private kept: { T: number; host: Record<string, Float32Array>; dev: Record<string, GPUBuffer>; release: () => void }[] = [];
  private bytes = 0;
  private full = false;
  /** Scans served from device taps / declined (tests and logs). */
  readonly stats = { served: 0, declined: 0 };

  constructor(readonly gpu: GpuBackend, private maxBytes = 2 ** 30) {}

  /** The Backend to give analyze(): the GPU backend, with tap forwards captured. */
  backend(): Backend {
    const gpu = this.gpu;
    return {
      spec: gpu.spec,
      info: () => gpu.info(),
      forward: (ids: number[], opts?: ForwardOptions) => this.forward(ids, opts),
      session: (maxTokens?: number): Session => gpu.session(maxTokens),
      peakBytes: () => gpu.peakBytes(),
      dispose: () => this.release(),
    };
  }

  private async forward(ids: number[], opts: ForwardOptions = {}): Promise<ForwardResult> {
    const taps = opts.taps ?? [];
    const blockTaps = taps.filter((t) => /^blk\.\d+\.(in|attn_out|mid|mlp_out|out)$/.test(t));
    const s = this.gpu.spec;
    const need = blockTaps.length * ids.length * s.dModel * 4;
    if (this.full || blockTaps.length === 0 || (opts.interventions?.length ?? 0) > 0 || this.bytes + need > this.maxBytes) {
      if (blockTaps.length && !opts.interventions?.length && this.bytes + need > this.maxBytes) this.full = true;
      return this.gpu.forward(ids, opts);
    }
    const r = await this.gpu.forwardOnDevice(ids, { ...opts, readLogits: true, readTaps: true });
    const dev: Record<string, GPUBuffer> = {};
    for (const t of blockTaps) dev[t] = r.taps[t];
    // Only the block taps are kept on the device; the others (attn_ctx, ffn_act, final_norm) go now.
    for (const [name, b] of Object.entries(r.taps)) if (!(name in dev)) b.destroy();
    const host = r.hostTaps!;
    this.kept.push({ T: ids.length, host, dev, release: () => { for (const b of Object.values(dev)) b.destroy(); } });
    this.bytes += need;
    return { logits: r.logits!, taps: host, T: ids.length };
  }

  /**
   * Device buffers [T, C] for the taps `names` of a scan over T tokens, when the kept forwards (the most
   * recent run of them whose lengths add up to T) produced exactly those host arrays; null otherwise.
   * dispose() frees the concatenations made here (not the kept buffers).
   */
  find(taps: Record<string, Float32Array>, names: string[], T: number, C: number): { taps: Record<string, GPUBuffer>; dispose: () => void } | null {
    // The most recent run of kept forwards with sum T (analyze does its tap forwards, then scans).
    let sum = 0;
    let first = this.kept.length;
    while (first > 0 && sum < T) sum += this.kept[--first].T;
    const parts = this.kept.slice(first);
    const ok = sum === T && parts.length > 0 && names.every((n) => {
      const h = taps[n];
      if (!h || h.length !== T * C) return false;
      let o = 0;
      for (const p of parts) {
        const ph = p.host[n];
        if (!p.dev[n] || !ph || ph.length !== p.T * C) return false;
        // Sampled check (the host arrays of this run, in order): 64 strided values and the last.
        const step = Math.max(1, Math.floor(ph.length / 64));
        for (let i = 0; i < ph.length; i += step) if (!Object.is(ph[i], h[o + i])) return false;
        if (!Object.is(ph[ph.length - 1], h[o + ph.length - 1])) return false;
        o += ph.length;
      }
      return true;
    });
    if (!ok) {
      this.stats.declined++;
      return null;
    }
    this.stats.served++;
    if (parts.length === 1) return { taps: Object.fromEntries(names.map((n) => [n, parts[0].dev[n]])), dispose: () => {} };
    const ctx = this.gpu.ctx;
    const made: GPUBuffer[] = [];
    const enc = ctx.device.createCommandEncoder({ label: 'concatenate taps' });
    const out: Record<string, GPUBuffer> = {};
    for (const n of names) {
      const b = ctx.storage(T * C * 4, `${n} (texts concatenated)`);
      made.push(b);
      let o = 0;
      for (const p of parts) {
        enc.copyBufferToBuffer(p.dev[n], 0, b, o, p.T * C * 4);
        o += p.T * C * 4;
      }
      out[n] = b;
    }
    ctx.device.queue.submit([enc.finish()]);
    return { taps: out, dispose: () => { for (const b of made) b.destroy(); } };
  }

  /** Free every kept tap buffer. */
  release(): void {
    for (const k of this.kept) k.release();
    this.kept = [];
    this.bytes = 0;
  }
}

export class GpuAnalysisScanner implements ActivationScanner, WeightScanner {
  readonly backend = 'gpu';
  private simple: boolean;
  private maxCkaBytes: number;
  private maxBindingBytes: number;
  private deviceTaps: DeviceTapCapture | undefined;
  /** Tap uploads made by scan() (0 when every scan read device taps). */
  readonly stats = { uploads: 0 };

  constructor(private ctx: GpuContext, opts: GpuScannerOptions = {}) {
    this.simple = opts.simple ?? false;
    this.deviceTaps = opts.deviceTaps;
    this.maxCkaBytes = opts.maxCkaBytes ?? 2 ** 30;
    this.maxBindingBytes = opts.maxBindingBytes ?? Infinity;
  }

  private bindLimit(): number {
    const lim = this.ctx.device.limits;
    return Math.min(lim.maxStorageBufferBindingSize, lim.maxBufferSize, this.maxBindingBytes);
  }

  private async record(encode: (pass: GPUComputePassEncoder) => void): Promise<void> {
    const enc = this.ctx.device.createCommandEncoder({ label: 'analysis scans' });
    const pass = enc.beginComputePass();
    encode(pass);
    pass.end();
    await this.ctx.submit([enc.finish()]);
  }

  async scan(req: ActivationScanRequest): Promise<ActivationScan> {
    const { taps, nLayers: L, T, C } = req;
    const ctx = this.ctx;
    const variant = this.simple ? 'simple' : 'auto';
    const tokenOut = req.tokens ? ctx.storage(L * T * TOKEN_SUMS * 4, 'scan tokens') : null;
    const gram = T <= C;
    const R = 2 * L;
    const repFloats = gram ? T * T : C * T;
    const doCka = req.cka && R * repFloats * 4 <= Math.min(this.maxCkaBytes, this.bindLimit()) && T * C * 4 <= this.bindLimit();
    const reps = doCka ? ctx.storage(R * repFloats * 4, 'cka reps') : null;
    const scratch = doCka ? ctx.storage((gram ? T * C : C * C) * 4, 'cka scratch') : null;
    const temp: GPUBuffer[] = [];
    let device: { taps: Record<string, GPUBuffer>; dispose: () => void } | null = null;
    try {
      // Token rows per upload: the whole [T, C] tap unless it exceeds a binding (then CKA was declined).
      const rowsPer = doCka ? T : Math.max(1, Math.floor(this.bindLimit() / (C * 4)));
      // Device taps (DeviceTapCapture) when whole taps fit a binding: no upload.
      if (this.deviceTaps && rowsPer >= T) {
        const names: string[] = [];
        for (let l = 0; l < L; l++) for (const p of SCAN_POINTS) if (taps[tapName(l, p)] && (req.tokens || p === 'in' || p === 'out')) names.push(tapName(l, p));
        device = this.deviceTaps.find(taps, names, T, C);
      }
      for (let l = 0; l < L; l++) {
        for (const name of [tapName(l, 'in'), tapName(l, 'out')]) {
          if (!taps[name]) throw new Error(`activation scan needs tap '${name}', which the forward did not return`);
        }
        for (let t0 = 0; t0 < T; t0 += rowsPer) {
          const rows = Math.min(rowsPer, T - t0);
          const up = (p: 'in' | 'attn_out' | 'mid' | 'mlp_out' | 'out'): GPUBuffer | undefined => {
            const a = taps[tapName(l, p)];
            if (!a) return undefined;
            if (a.length !== T * C) throw new Error(`tap '${tapName(l, p)}' has ${a.length} values, expected ${T}x${C}`);
            const d = device?.taps[tapName(l, p)];
            if (d) return d;
            this.stats.uploads++;
            const b = ctx.storage(a.subarray(t0 * C, (t0 + rows) * C), tapName(l, p));
            temp.push(b);
            return b;
          };
          const hin = up('in')!;
          const hout = up('out')!;
          const mid = req.tokens ? up('mid') : undefined;
          const attnOut = req.tokens ? up('attn_out') : undefined;
          const mlpOut = req.tokens ? up('mlp_out') : undefined;
          await this.record((pass) => {
            if (tokenOut) encodeScanTokens(ctx, pass, { hin, hout, mid, attnOut, mlpOut, out: tokenOut, T: rows, C, outOffset: (l * T + t0) * TOKEN_SUMS, simple: this.simple });
            if (!reps || !scratch) return;
            for (const [x, r] of [[hin, l], [hout, L + l]] as const) {
              if (gram) {
                encodeCenter(ctx, pass, { x, out: scratch, T, C });
                encodeMatmul(ctx, pass, { x: scratch, w: scratch, y: reps, M: T, N: T, K: C, yOffset: r * T * T, variant });
              } else {
                encodeCenter(ctx, pass, { x, out: reps, T, C, outOffset: r * C * T, transposed: true });
              }
            }
          });
          for (const b of temp.splice(0)) b.destroy();
        }
      }
      let cka: ActivationScan['cka'] = null;
      if (reps && scratch) {
        // Pairs: every representation with itself (norms), then (in_l, out_l), then (out_i, out_j), i < j.
        const pairs: [number, number][] = [];
        for (let r = 0; r < R; r++) pairs.push([r, r]);
        for (let l = 0; l < L; l++) pairs.push([l, L + l]);
        for (let i = 0; i < L; i++) for (let j = i + 1; j < L; j++) pairs.push([L + i, L + j]);
        const M = gram ? T : C;
        const partial = ctx.storage(pairs.length * M * 4, 'cka partials');
        temp.push(partial);
        await this.record((pass) => {
          pairs.forEach(([a, b], p) => {
            if (gram) {
              encodeRowDot(ctx, pass, { a: reps, b: reps, out: partial, rows: T, cols: T, aOffset: a * T * T, bOffset: b * T * T, outOffset: p * T });
            } else {
              // cross[i, j] = sum_t Yc[t, i] Xc[t, j] (X = rep a, Y = rep b), then ||cross||_F^2 by rows.
              encodeMatmul(ctx, pass, { x: reps, w: reps, y: scratch, M: C, N: C, K: T, xOffset: b * C * T, wOffset: a * C * T, variant });
              encodeRowDot(ctx, pass, { a: scratch, b: scratch, out: partial, rows: C, cols: C, outOffset: p * C });
            }
          });
        });
        const part = await ctx.readF32(partial, pairs.length * M);
        const d = pairs.map((_, p) => {
          let s = 0;
          for (let i = 0; i < M; i++) s += part[p * M + i];
          return s;
        });
        const norm = (r: number) => Math.sqrt(d[r]);
        const ratio = (num: number, a: number, b: number) => (a * b > 0 ? num / (a * b) : NaN);
        const inOut: number[] = [];
        for (let l = 0; l < L; l++) inOut.push(ratio(d[R + l], norm(l), norm(L + l)));
        const matrix = Array.from({ length: L }, () => new Array<number>(L).fill(NaN));
        for (let i = 0; i < L; i++) matrix[i][i] = ratio(d[L + i], norm(L + i), norm(L + i));
        let p = R + L;
        for (let i = 0; i < L; i++) for (let j = i + 1; j < L; j++) matrix[i][j] = matrix[j][i] = ratio(d[p++], norm(L + i), norm(L + j));
        cka = { inOut, matrix };
      }
      let tokenSums: Float64Array | null = null;
      if (tokenOut) tokenSums = Float64Array.from(await ctx.readF32(tokenOut, L * T * TOKEN_SUMS));
      return { tokenSums, cka };
    } finally {
      device?.dispose();
      for (const b of temp) b.destroy();
      tokenOut?.destroy();
      reps?.destroy();
      scratch?.destroy();
    }
  }

  async load(mats: WeightScanTensor[]): Promise<WeightScanBlock> {
    const ctx = this.ctx;
    const simple = this.simple;
    const limit = this.bindLimit();
    // Pieces: row ranges of each matrix that fit one binding; chunk partials laid out piece after piece.
    const pieces: { mat: number; w: GPUBuffer; norms?: GPUBuffer; rows: number; cols: number; off: number }[] = [];
    const owned: GPUBuffer[] = [];
    let chunks = 0;
    mats.forEach(({ w, norms }, mat) => {
      const nb = norms ? ctx.storage(norms, 'wanda norms') : undefined;
      if (nb) owned.push(nb);
      const rowsPer = Math.max(1, Math.floor(limit / (w.cols * 4)));
      for (let r0 = 0; r0 < w.rows; r0 += rowsPer) {
        const rows = Math.min(rowsPer, w.rows - r0);
        const wb = ctx.storage(w.data.subarray(r0 * w.cols, (r0 + rows) * w.cols), 'weights');
        owned.push(wb);
        pieces.push({ mat, w: wb, norms: nb, rows, cols: w.cols, off: chunks });
        chunks += scanWeightChunks(rows * w.cols, simple);
      }
    });
    const out = chunks ? ctx.storage(chunks * WEIGHT_SUMS * 4, 'weight partials') : null;
    if (out) owned.push(out);
    return {
      reduce: async (pass, params) => {
        const res = new Float64Array(mats.length * WEIGHT_SUMS);
        if (!out) return res;
        await this.record((cp) => {
          for (const pc of pieces) {
            encodeScanWeights(ctx, cp, {
              w: pc.w, norms: pc.norms, out, rows: pc.rows, cols: pc.cols, pass, simple,
              params: params.subarray(pc.mat * WEIGHT_SUMS, pc.mat * WEIGHT_SUMS + 5), outOffset: pc.off * WEIGHT_SUMS,
            });
          }
        });
        const part = await ctx.readF32(out, chunks * WEIGHT_SUMS);
        pieces.forEach((pc, i) => {
          const end = i + 1 < pieces.length ? pieces[i + 1].off : chunks;
          const s = res.subarray(pc.mat * WEIGHT_SUMS, (pc.mat + 1) * WEIGHT_SUMS);
          for (let k = pc.off; k < end; k++) {
            for (let j = 0; j < WEIGHT_SUMS; j++) {
              const v = part[k * WEIGHT_SUMS + j];
              if (pass === 0 && j === 3) s[j] = Math.max(s[j], v);
              else s[j] += v;
            }
          }
        });
        return res;
      },
      dispose: () => {
        for (const b of owned) b.destroy();
        owned.length = 0;
      },
    };
  }
}
