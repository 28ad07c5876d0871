// Fisher-style weight sensitivity: the diagonal of the empirical Fisher information, estimated as the mean
// of squared loss gradients over calibration samples (Kwon et al. 2022, "A Fast Post-Training Pruning
// Framework for Transformers", arXiv 2204.09656, who use it as the pruning-importance of each weight
// group). Here a sample is one calibration text and its loss the text's mean next-token cross-entropy:
//   F_i = (1 / S) sum_s (dL_s / dw_i)^2        (S = texts with at least one next-token target)
// Reported (higher = more important):
//   perTensor[name]       = mean_i F_i over the tensor's entries (every tensor: embeddings, norms, linears)
//   perBlock[l]           = mean of F_i over all entries of block l's tensors (blk.l.*)
//   perSublayer.attn[l]   = the same over blk.l.attn_* tensors; perSublayer.mlp[l] over blk.l.ffn_*
//   extra.perTensorSum    = sum_i F_i per tensor (the Fisher trace of that tensor)
// Only the per-tensor sums sum_i (dL_s/dw_i)^2 of each text are needed (FisherSums), so the gradients can
// come from src/core/grad/backward.ts on the CPU in float64 (cpuFisherSums, extra.gradientBackend = 'cpu')
// or from an injected provider of those per-tensor sums (fisherSumsFrom; e.g. the WebGPU backward of
// src/gpu/grad-backend.ts, which reduces each squared weight gradient on the GPU, 'gpu'). Quantized
// weights: the gradient is with respect to the dequantized values (the weights the forward uses).

import { scores, type LayerScores, type MetricMeta } from './types.ts';
import { sumSq } from '../grad/ops/sum-sq.ts';
import type { GradContext } from './taylor.ts';

export const meta: MetricMeta = {
  id: 'fisher',
  label: 'Empirical Fisher: mean squared weight gradient',
  paper: 'Kwon et al. 2022, A Fast Post-Training Pruning Framework for Transformers, arXiv 2204.09656',
  unit: 'nats^2',
  higherIsMoreImportant: true,
  needs: ['gradients'],
};

/** Per-tensor sums over texts of sum_i (dL_s/dw_i)^2, and the number of texts S that contributed. */
export interface FisherSums {
  sumSq: Map<string, number>;
  samples: number;
  gradientBackend: 'cpu' | 'gpu';
}

/** One text's per-tensor sum_i (dL/dw_i)^2 (L its own mean next-token loss); null = not available. */
export type WeightGradSqFn = (ids: number[]) => Promise<Record<string, number> | null>;

/** FisherSums from the float64 CPU backward (one backward with weight gradients per text). */
export function cpuFisherSums(ctx: GradContext): FisherSums {
  const sums = new Map<string, number>();
  let S = 0;
  for (const x of ctx.ids) {
    if (x.length < 2) continue;
    S++;
    for (const [name, g] of ctx.grad.lossAndGrad(x).weights) sums.set(name, (sums.get(name) ?? 0) + sumSq(g));
  }
  return { sumSq: sums, samples: S, gradientBackend: 'cpu' };
}

/** FisherSums from a provider of per-text sums; null when the provider declines (then use the CPU). */
export async function fisherSumsFrom(ids: number[][], provider: WeightGradSqFn, gradientBackend: 'cpu' | 'gpu'): Promise<FisherSums | null> {
  const sums = new Map<string, number>();
  let S = 0;
  for (const x of ids) {
    if (x.length < 2) continue;
    const r = await provider(x);
    if (!r) return null;
    S++;
    for (const [name, v] of Object.entries(r)) sums.set(name, (sums.get(name) ?? 0) + v);
  }
  return { sumSq: sums, samples: S, gradientBackend };
}

/**
 * The scores from FisherSums. `sizes`: every tensor of the model (name -> number of entries, in model
 * order); a tensor without a gradient sum counts as 0.
 */
export function fromSums(nLayers: number, sizes: Iterable<[string, number]>, sums: FisherSums): LayerScores {
  const L = nLayers;
  const S = sums.samples;
  const perTensor: Record<string, number> = {};
  const perTensorSum: Record<string, number> = {};
  const blk = Array.from({ length: L }, () => ({ all: [0, 0], attn: [0, 0], mlp: [0, 0] }));
  for (const [name, n] of sizes) {
    const s = S ? (sums.sumSq.get(name) ?? 0) / S : NaN;
    perTensorSum[name] = s;
    perTensor[name] = s / n;
    const m = /^blk\.(\d+)\.(attn|ffn)_/.exec(name);
    if (m) {
      const b = blk[Number(m[1])];
      b.all[0] += s;
      b.all[1] += n;
      const part = m[2] === 'attn' ? b.attn : b.mlp;
      part[0] += s;
      part[1] += n;
    }
  }
  const q = (p: number[]) => (p[1] ? p[0] / p[1] : NaN);
  return scores(meta, blk.map((b) => q(b.all)), {
    perSublayer: { attn: blk.map((b) => q(b.attn)), mlp: blk.map((b) => q(b.mlp)) },
    perTensor,
    extra: { perTensorSum, samples: S, sample: 'text', gradientBackend: sums.gradientBackend },
  });
}

/** Fisher scores with CPU gradients (or the given sums). */
export function compute(ctx: GradContext, sums: FisherSums = cpuFisherSums(ctx)): LayerScores {
  const sizes = [...ctx.grad.weights].map(([name, w]): [string, number] => [name, w.length]);
  return fromSums(ctx.grad.spec.nLayers, sizes, sums);
}
