// Next-token selection: greedy (argmax, ties to the lowest id) and seeded sampling with temperature,
// top-k and top-p (nucleus, Holtzman et al. 2019, arXiv 1904.09751), applied in that order:
// logits / T -> keep the k most likely -> keep the smallest prefix of the sorted distribution whose
// mass reaches p -> renormalise -> draw with a seeded PRNG. Deterministic for a given seed.

import { mulberry32 } from '../tensor.ts';

export interface SamplingOptions {
  /** 0 (default) = greedy. */
  temperature?: number;
  /** 0 or undefined = no top-k. */
  topK?: number;
  /** 1 or undefined = no top-p. */
  topP?: number;
  seed?: number;
}

export function argmax(logits: Float32Array | number[]): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

export class Sampler {
  private rnd: () => number;
  constructor(private opts: SamplingOptions = {}) {
    const t = opts.temperature ?? 0;
    if (!(t >= 0) || !Number.isFinite(t)) throw new Error(`temperature must be a finite number >= 0, got ${t}`);
    if (opts.topK !== undefined && (!Number.isInteger(opts.topK) || opts.topK < 0)) throw new Error(`top-k must be an integer >= 0, got ${opts.topK}`);
    if (opts.topP !== undefined && !(opts.topP > 0 && opts.topP <= 1)) throw new Error(`top-p must be in (0, 1], got ${opts.topP}`);
    // mulberry32 keeps the low 32 bits: 1.5, NaN or Infinity would silently act as another seed.
    if (opts.seed !== undefined && !Number.isInteger(opts.seed)) throw new Error(`seed must be an integer, got ${opts.seed}`);
    this.rnd = mulberry32(opts.seed ?? 0);
  }

  /** Refuse logits that cannot be ranked: none at all, or NaN (a diverged forward). */
  private static check(logits: Float32Array): void {
    if (logits.length === 0) throw new Error('no logits to sample from (vocabulary of size 0)');
    for (let i = 0; i < logits.length; i++) {
      if (Number.isNaN(logits[i])) throw new Error(`the logits contain NaN (id ${i}): the forward pass diverged, nothing can be sampled`);
    }
  }

  /** Candidate ids and their probabilities after temperature, top-k and top-p (sorted by probability). */
  distribution(logits: Float32Array): { ids: number[]; probs: number[] } {
    Sampler.check(logits);
    const T = this.opts.temperature ?? 0;
    if (T === 0) return { ids: [argmax(logits)], probs: [1] };
    const V = logits.length;
    const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b);
    const k = this.opts.topK && this.opts.topK > 0 ? Math.min(this.opts.topK, V) : V;
    const ids = order.slice(0, k);
    const m = logits[ids[0]];
    let probs = ids.map((i) => Math.exp((logits[i] - m) / T));
    let s = probs.reduce((a, b) => a + b, 0);
    probs = probs.map((p) => p / s);
    const p = this.opts.topP ?? 1;
    if (p < 1) {
      let cum = 0;
      let n = 0;
      while (n < probs.length) {
        cum += probs[n++];
        if (cum >= p) break;
      }
      ids.length = n;
      probs = probs.slice(0, n);
      s = probs.reduce((a, b) => a + b, 0);
      probs = probs.map((q) => q / s);
    }
    return { ids, probs };
  }

  next(logits: Float32Array): number {
    Sampler.check(logits);
    if ((this.opts.temperature ?? 0) === 0) return argmax(logits);
    const { ids, probs } = this.distribution(logits);
    const u = this.rnd();
    let cum = 0;
    for (let i = 0; i < ids.length; i++) {
      cum += probs[i];
      if (u < cum) return ids[i];
    }
    return ids[ids.length - 1];
  }
}
