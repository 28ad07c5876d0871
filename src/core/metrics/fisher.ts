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
// Gradients: src/core/grad/backward.ts on the CPU in float64 (extra.gradientBackend = 'cpu').

import { scores, type LayerScores, type MetricMeta } from './types.ts';
import type { GradContext } from './taylor.ts';

export const meta: MetricMeta = {
  id: 'fisher',
  label: 'Empirical Fisher: mean squared weight gradient',
  paper: 'Kwon et al. 2022, A Fast Post-Training Pruning Framework for Transformers, arXiv 2204.09656',
  unit: 'nats^2',
  higherIsMoreImportant: true,
  needs: ['gradients'],
};

export function compute(ctx: GradContext): LayerScores {
  const { grad, ids } = ctx;
  const L = grad.spec.nLayers;
  const sq = new Map<string, Float64Array>();
  let S = 0;
  for (const x of ids) {
    if (x.length < 2) continue;
    S++;
    const r = grad.lossAndGrad(x);
    for (const [name, g] of r.weights) {
      let a = sq.get(name);
      if (!a) sq.set(name, (a = new Float64Array(g.length)));
      for (let i = 0; i < g.length; i++) a[i] += g[i] * g[i];
    }
  }
  const perTensor: Record<string, number> = {};
  const perTensorSum: Record<string, number> = {};
  const blk = Array.from({ length: L }, () => ({ all: [0, 0], attn: [0, 0], mlp: [0, 0] }));
  for (const name of grad.weights.keys()) {
    const a = sq.get(name);
    const n = grad.weights.get(name)!.length;
    let s = 0;
    if (a) for (let i = 0; i < a.length; i++) s += a[i];
    s = S ? s / S : NaN;
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
    extra: { perTensorSum, samples: S, sample: 'text', gradientBackend: 'cpu' },
  });
}
