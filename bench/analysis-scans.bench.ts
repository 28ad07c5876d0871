// The analysis scans alone, CPU metric modules vs the WebGPU scanner (src/gpu/analysis-scans.ts), on
// synthetic residual streams and weights of a given shape (no model needed): cos + lim + contrib + cka
// from L blocks of [T, C] taps, and zd + weight statistics (without erank: its SVD is CPU either way) of
// L blocks of Llama-shaped linear weights (q, k, v, o [C, C], gate / up [F, C], down [C, F]).
// Prints seconds per side and the largest difference of the block scores.
//   tsx bench/analysis-scans.bench.ts [--layers 8] [--tokens 256] [--width 512] [--ffn 1376] [--cpu-cka-max 2e10]
// CPU CKA is skipped when its float64 work (about 2 L T^2 C + L^2 T^2 multiply-adds) exceeds --cpu-cka-max.
import '../src/gpu/shaders-node.ts';
import { nodeGpu } from '../src/cli/node-gpu.ts';
import { parseArgs } from '../src/cli/main.ts';
import { randn } from '../src/core/tensor.ts';
import { computeMetric, type LayerScores, type MetricId, type WeightMatrix } from '../src/core/metrics/index.ts';
import { tapName } from '../src/core/metrics/types.ts';
import * as weights from '../src/core/metrics/weights.ts';
import * as zd from '../src/core/metrics/zd.ts';
import { ckaFromScan, contribFromSums, cosFromSums, limFromSums, scanWeightStats, zdFromScan } from '../src/core/analysis/scans.ts';
import { acquireDevice } from '../src/gpu/device.ts';
import { GpuContext } from '../src/gpu/context.ts';
import { shaderSource } from '../src/gpu/shaders.ts';
import { GpuAnalysisScanner } from '../src/gpu/analysis-scans.ts';

const args = parseArgs(process.argv.slice(2));
const L = Number(args.layers ?? 8);
const T = Number(args.tokens ?? 256);
const C = Number(args.width ?? 512);
const F = Number(args.ffn ?? Math.round((C * 8) / 3 / 32) * 32);
const cpuCkaMax = Number(args['cpu-cka-max'] ?? 2e10);

const acquired = await acquireDevice(await nodeGpu());
const ctx = new GpuContext(acquired.device, shaderSource);
const scanner = new GpuAnalysisScanner(ctx, { simple: acquired.software });
console.log(`adapter: ${acquired.adapter}${acquired.software ? ' (software: simple kernels)' : ''}; L=${L} T=${T} C=${C} F=${F}`);

const taps: Record<string, Float32Array> = {};
let h = randn(T * C, 1);
for (let l = 0; l < L; l++) {
  const att = randn(T * C, 10 * l + 2, 0.2);
  const mid = Float32Array.from(h, (v, i) => v + att[i]);
  const mlp = randn(T * C, 10 * l + 3, 0.3);
  const out = Float32Array.from(mid, (v, i) => v + mlp[i]);
  Object.assign(taps, { [tapName(l, 'in')]: h, [tapName(l, 'attn_out')]: att, [tapName(l, 'mid')]: mid, [tapName(l, 'mlp_out')]: mlp, [tapName(l, 'out')]: out });
  h = out;
}
const W = new Map<string, WeightMatrix>();
for (let l = 0; l < L; l++) {
  for (const s of ['attn_q', 'attn_k', 'attn_v', 'attn_output']) W.set(`blk.${l}.${s}`, { data: randn(C * C, 100 * l + s.length, 0.02), rows: C, cols: C });
  for (const s of ['ffn_gate', 'ffn_up']) W.set(`blk.${l}.${s}`, { data: randn(F * C, 100 * l + s.length, 0.02), rows: F, cols: C });
  W.set(`blk.${l}.ffn_down`, { data: randn(C * F, 100 * l + 99, 0.02), rows: C, cols: F });
}
const norms = (name: string) => Float32Array.from({ length: W.get(name)!.cols }, (_, j) => 1 + (j % 7));

const secs = async <R>(f: () => R | Promise<R>): Promise<[R, number]> => {
  const t0 = performance.now();
  const r = await f();
  return [r, (performance.now() - t0) / 1000];
};
const maxDiff = (a: LayerScores, b: LayerScores) => Math.max(...a.perBlock.map((v, i) => Math.abs(v - b.perBlock[i])));

const tctx = { taps, T, C, nLayers: L };
const ckaWork = 2 * L * T * T * C + L * L * T * T;
const cpuTaps = await secs(() => (['cos', 'lim', 'contrib', ...(ckaWork <= cpuCkaMax ? ['cka'] : [])] as MetricId[]).map((g) => computeMetric(g, tctx)));
const gpuTaps = await secs(async () => {
  const r = await scanner.scan({ ...tctx, tokens: true, cka: true });
  const s = r.tokenSums!;
  return [cosFromSums(s, L, T, taps), limFromSums(s, L, T, taps), contribFromSums(s, L, T, taps), ...(r.cka ? [ckaFromScan(r.cka)] : [])];
});
const diffs = cpuTaps[0].map((s, i) => `${s.metricId} ${maxDiff(s, gpuTaps[0][i]).toExponential(1)}`).join(', ');
console.log(`taps scans (cos, lim, contrib, cka${ckaWork <= cpuCkaMax ? '' : ' GPU only'}): CPU ${cpuTaps[1].toFixed(2)} s, GPU ${gpuTaps[1].toFixed(2)} s; max |diff| ${diffs}`);

const wctx = { nLayers: L, weight: W, inputNorms: norms, effectiveRank: false };
const cpuW = await secs(() => [zd.compute(wctx), ...(['fro', 'kurtosis', 'outliers', 'owl'] as const).map((s) => weights.compute(wctx, s))]);
const gpuW = await secs(async () => {
  const r = await scanWeightStats(wctx, scanner);
  return [zdFromScan(r.zd), ...(['fro', 'kurtosis', 'outliers', 'owl'] as const).map((s) => weights.compute(wctx, s, r.stats))];
});
console.log(`weight scans (zd, fro, kurtosis, outliers, owl): CPU ${cpuW[1].toFixed(2)} s, GPU ${gpuW[1].toFixed(2)} s; max |diff| ${cpuW[0].map((s, i) => `${s.metricId} ${maxDiff(s, gpuW[0][i]).toExponential(1)}`).join(', ')}`);
process.exit(0);
