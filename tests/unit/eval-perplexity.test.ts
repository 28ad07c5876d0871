// Mean NLL and llama-perplexity-style chunked perplexity (src/core/eval/perplexity.ts, nll.ts) on a fake
// Backend whose logits are a known function of (position, input tokens), so every expected number is
// computed in this file by hand or by a plain loop written here, never by the code under test.
//
// llama.cpp examples/perplexity/perplexity.cpp, perplexity(): n_chunk = n_tokens / n_ctx; each chunk
// i is tokens[i*n_ctx .. (i+1)*n_ctx) evaluated from a fresh context with tokens[start] replaced by BOS
// when the vocabulary adds BOS; first = n_ctx/2; process_logits() scores logits rows first .. n_ctx-2
// (row j predicts token j+1), count += n_ctx - first - 1; "[i]x" prints exp(nll/count) after each chunk;
// fewer than 2*n_ctx tokens is refused; the "+/-" is ppl * sqrt((mean(x^2) - mean(x)^2) / (count - 1)).
import { describe, expect, it } from 'vitest';
import type { Backend, Session } from '../../src/core/model/backend.ts';
import type { ModelSpec } from '../../src/core/model/spec.ts';
import type { ForwardResult } from '../../src/core/model/taps.ts';
import { chunkedPerplexity, nllOfIds, CancelledError } from '../../src/core/eval/perplexity.ts';
import { logSumExp, tokenNll, mean } from '../../src/core/eval/nll.ts';

function fakeSpec(V: number, contextLength: number, bosId: number | null = 2): ModelSpec {
  return {
    arch: 'llama', name: 'fake', nLayers: 1, dModel: 4, nHeads: 1, nKvHeads: 1, headDim: 4, dFF: 4,
    vocabSize: V, contextLength, norm: { kind: 'rms', eps: 1e-5 }, rope: { kind: 'none', theta: 10000, dim: 0 },
    learnedPositions: false, mlp: 'silu-gate', tiedEmbeddings: true, qkvBias: false, linearBias: false,
    fusedQkv: false, bosId, eosId: null, addBos: bosId !== null,
  };
}

/** logits row j of a forward over `ids` (row j may look at ids[0..j] only: causal). */
type LogitFn = (ids: number[], j: number, v: number) => number;

/** A Backend that records every forward call and returns logits from a known function. */
class FakeBackend implements Backend {
  readonly calls: number[][] = [];
  constructor(readonly spec: ModelSpec, private f: LogitFn) {}
  info() {
    return { kind: 'cpu' as const, adapter: 'fake', software: true, weightBytes: 0 };
  }
  async forward(ids: number[]): Promise<ForwardResult> {
    this.calls.push(ids.slice());
    const V = this.spec.vocabSize;
    const logits = new Float32Array(ids.length * V);
    for (let j = 0; j < ids.length; j++) for (let v = 0; v < V; v++) logits[j * V + v] = this.f(ids.slice(0, j + 1), j, v);
    return { logits, taps: {}, T: ids.length };
  }
  session(): Session {
    throw new Error('not used');
  }
  peakBytes() {
    return 0;
  }
  dispose() {}
}

// The model used below: row j gives logit s_j to the token (ids[j] + 1) mod V and 0 to every other
// token, with s_j = 0.25 j + 0.125 ids[0] (so the chunk's first token, BOS or not, moves every row;
// dyadic values, exact in the float32 logits).
// NLL of target y at row j = log(V - 1 + e^{s_j}) - (y == ids[j] + 1 mod V ? s_j : 0).
const s = (ids: number[], j: number) => 0.25 * j + 0.125 * ids[0];
const stepModel = (V: number): LogitFn => (ids, j, v) => (v === (ids[j] + 1) % V ? s(ids, j) : 0);
/** The NLL of the step model written out in plain float64, independently of src/core/eval/nll.ts. */
function stepNll(V: number, ids: number[], j: number, target: number): number {
  const sj = s(ids, j);
  return Math.log(V - 1 + Math.exp(sj)) - (target === (ids[j] + 1) % V ? sj : 0);
}

describe('chunkedPerplexity (llama-perplexity chunking)', () => {
  it('n_ctx = 4 by hand: 2 chunks, BOS replaces each chunk\'s first token, only row 2 is scored', async () => {
    // V = 5, BOS = 2, 9 tokens: chunks [1 3 0 1] and [4 2 3 0]; the 9th token is dropped (9 / 4 = 2).
    const ids = [1, 3, 0, 1, 4, 2, 3, 0, 4];
    const be = new FakeBackend(fakeSpec(5, 64), stepModel(5));
    const r = await chunkedPerplexity(be, ids, { ctx: 4, bosId: 2, addBos: true });
    expect(be.calls).toEqual([[2, 3, 0, 1], [2, 2, 3, 0]]);
    // first = 2; rows 2..2 are scored: chunk 0 row 2 sees 0 and predicts 1 = 0 + 1 (hit),
    // chunk 1 row 2 sees 3 and predicts 0 != 4 (miss). s_2 = 0.5 + 0.125 * BOS(2) = 0.75 in both chunks.
    // mean NLL = log(4 + e^0.75) - 0.75 / 2; PPL = (4 + e^0.75) e^-0.375.
    expect(r.chunks).toBe(2);
    expect(r.ctx).toBe(4);
    expect(r.scored).toBe(2);
    expect(r.meanNll).toBeCloseTo(Math.log(4 + Math.exp(0.75)) - 0.375, 12);
    expect(r.perplexity).toBeCloseTo((4 + Math.exp(0.75)) * Math.exp(-0.375), 10);
    // running PPL after chunk 1 = exp(NLL of the hit) = (4 + e^0.75) e^-0.75
    expect(r.perChunk[0]).toBeCloseTo((4 + Math.exp(0.75)) * Math.exp(-0.75), 10);
    expect(r.perChunk[1]).toBeCloseTo(r.perplexity, 12);
    // two values a and b = a + 0.75: sample sd = 0.75 / sqrt 2, standard error of the mean = 0.375
    expect(r.nllStdErr).toBeCloseTo(0.375, 12);
  });

  it('without BOS handling the chunks are evaluated as they are', async () => {
    const ids = [1, 3, 0, 1, 4, 2, 3, 0, 4];
    const be = new FakeBackend(fakeSpec(5, 64), stepModel(5));
    const r = await chunkedPerplexity(be, ids, { ctx: 4, bosId: 2, addBos: false });
    expect(be.calls).toEqual([[1, 3, 0, 1], [4, 2, 3, 0]]);
    // chunk 0: s_2 = 0.5 + 0.125 = 0.625, hit; chunk 1: s_2 = 0.5 + 0.5 = 1, miss
    const want = (Math.log(4 + Math.exp(0.625)) - 0.625 + Math.log(4 + Math.exp(1))) / 2;
    expect(r.meanNll).toBeCloseTo(want, 12);
    // addBos with no BOS id: nothing to replace
    const be2 = new FakeBackend(fakeSpec(5, 64, null), stepModel(5));
    await chunkedPerplexity(be2, ids, { ctx: 4, bosId: null, addBos: true });
    expect(be2.calls).toEqual([[1, 3, 0, 1], [4, 2, 3, 0]]);
  });

  it.each([
    [8, 37],
    [7, 30], // odd n_ctx: first = floor(7 / 2) = 3, rows 3..5
    [16, 100],
  ])('n_ctx = %i on %i tokens: windows, counts and the value match a plain loop', async (nCtx, n) => {
    const V = 11;
    const ids: number[] = [];
    let x = 7;
    for (let i = 0; i < n; i++) {
      x = (x * 5 + 3) % 23; // a fixed pseudo-random walk; many (ids[j], ids[j+1]) pairs hit, many miss
      ids.push(x % V);
    }
    const bos = 1;
    const be = new FakeBackend(fakeSpec(V, 64, bos), stepModel(V));
    const r = await chunkedPerplexity(be, ids, { ctx: nCtx, bosId: bos, addBos: true });

    const nChunk = Math.floor(n / nCtx);
    const first = Math.floor(nCtx / 2);
    const nlls: number[] = [];
    const running: number[] = [];
    for (let c = 0; c < nChunk; c++) {
      const chunk = ids.slice(c * nCtx, (c + 1) * nCtx);
      chunk[0] = bos;
      expect(be.calls[c]).toEqual(chunk);
      for (let j = first; j <= nCtx - 2; j++) nlls.push(stepNll(V, chunk, j, chunk[j + 1]));
      running.push(Math.exp(nlls.reduce((a, b) => a + b, 0) / nlls.length));
    }
    expect(be.calls.length).toBe(nChunk);
    expect(r.chunks).toBe(nChunk);
    expect(r.scored).toBe(nChunk * (nCtx - first - 1));
    expect(nlls.length).toBe(r.scored);
    const m = nlls.reduce((a, b) => a + b, 0) / nlls.length;
    const m2 = nlls.reduce((a, b) => a + b * b, 0) / nlls.length;
    expect(r.meanNll).toBeCloseTo(m, 10);
    expect(r.perplexity).toBeCloseTo(Math.exp(m), 9);
    // llama.cpp's +/-: sqrt((mean(x^2) - mean(x)^2) / (count - 1))
    expect(r.nllStdErr).toBeCloseTo(Math.sqrt((m2 - m * m) / (nlls.length - 1)), 9);
    expect(r.perChunk.length).toBe(nChunk);
    r.perChunk.forEach((p, i) => expect(p).toBeCloseTo(running[i], 9));
  });

  it('leaves the caller\'s token array unchanged', async () => {
    const ids = [5, 3, 0, 1, 4, 2, 3, 0];
    const copy = ids.slice();
    await chunkedPerplexity(new FakeBackend(fakeSpec(6, 64), stepModel(6)), ids, { ctx: 4, bosId: 2, addBos: true });
    expect(ids).toEqual(copy);
  });

  it('needs at least 2 * n_ctx tokens, as llama-perplexity', async () => {
    const be = new FakeBackend(fakeSpec(5, 64), stepModel(5));
    const ids = Array.from({ length: 15 }, (_, i) => i % 5);
    await expect(chunkedPerplexity(be, ids, { ctx: 8, bosId: 2, addBos: true })).rejects.toThrow(/15 tokens.*at least 16.*2 \* ctx/);
    expect(be.calls.length).toBe(0);
    const ok = await chunkedPerplexity(be, [...ids, 0], { ctx: 8, bosId: 2, addBos: true });
    expect(ok.chunks).toBe(2);
  });

  it('rejects a context that is too small, not an integer or larger than the model\'s', async () => {
    const be = new FakeBackend(fakeSpec(5, 32), stepModel(5));
    const ids = Array.from({ length: 200 }, (_, i) => i % 5);
    for (const ctx of [3, 0, -8, 4.5, NaN]) {
      await expect(chunkedPerplexity(be, ids, { ctx, bosId: 2, addBos: true })).rejects.toThrow(/--ctx must be an integer >= 4/);
    }
    await expect(chunkedPerplexity(be, ids, { ctx: 64, bosId: 2, addBos: true })).rejects.toThrow(/--ctx 64 exceeds the model's context length 32/);
    expect(be.calls.length).toBe(0);
  });

  it('reports progress per chunk and stops when cancelled', async () => {
    const be = new FakeBackend(fakeSpec(5, 64), stepModel(5));
    const ids = Array.from({ length: 40 }, (_, i) => (i * 3) % 5);
    const seen: [number, number, string][] = [];
    await chunkedPerplexity(be, ids, { ctx: 8, bosId: 2, addBos: true, progress: (d, t, w) => seen.push([d, t, w]) });
    expect(seen).toEqual([1, 2, 3, 4, 5].map((d) => [d, 5, 'perplexity']));
    const cancel = { cancelled: false };
    const be2 = new FakeBackend(fakeSpec(5, 64), stepModel(5));
    const p = chunkedPerplexity(be2, ids, { ctx: 8, bosId: 2, addBos: true, cancel, progress: (d) => { if (d === 2) cancel.cancelled = true; } });
    await expect(p).rejects.toBeInstanceOf(CancelledError);
    expect(be2.calls.length).toBe(2);
  });

  it('fails clearly when the forward pass returns NaN logits', async () => {
    const V = 5;
    const be = new FakeBackend(fakeSpec(V, 64), (ids, j, v) => (j === 5 && v === 0 ? NaN : stepModel(V)(ids, j, v)));
    const ids = Array.from({ length: 16 }, (_, i) => (i * 3) % 5);
    await expect(chunkedPerplexity(be, ids, { ctx: 8, bosId: 2, addBos: true })).rejects.toThrow(/not finite|NaN/);
  });
});

describe('nllOfIds (mean NLL, context-sized windows)', () => {
  const V = 7;
  const ids = [3, 4, 5, 1, 2, 3, 0, 6, 0, 1]; // 10 tokens

  function plainNll(windows: number[][]): number[] {
    const out: number[] = [];
    for (const w of windows) for (let j = 0; j + 1 < w.length; j++) out.push(stepNll(V, w, j, w[j + 1]));
    return out;
  }

  it('one window: every position predicts the next (no BOS replacement)', async () => {
    const be = new FakeBackend(fakeSpec(V, 64), stepModel(V));
    const r = await nllOfIds(be, ids);
    expect(be.calls).toEqual([ids]);
    const want = plainNll([ids]);
    expect(r.windows).toBe(1);
    expect(r.scored).toBe(9);
    r.tokenNll.forEach((x, i) => expect(x).toBeCloseTo(want[i], 12));
    expect(r.meanNll).toBeCloseTo(want.reduce((a, b) => a + b, 0) / 9, 12);
    expect(r.perplexity).toBeCloseTo(Math.exp(r.meanNll), 12);
  });

  it('ctx = 4 on 10 tokens: windows [0..3] [4..7] [8..9], each from a fresh context, 3 + 3 + 1 scored', async () => {
    const be = new FakeBackend(fakeSpec(V, 64), stepModel(V));
    const r = await nllOfIds(be, ids, { ctx: 4 });
    const wins = [ids.slice(0, 4), ids.slice(4, 8), ids.slice(8, 10)];
    expect(be.calls).toEqual(wins);
    expect(r.windows).toBe(3);
    expect(r.scored).toBe(7);
    const want = plainNll(wins);
    r.tokenNll.forEach((x, i) => expect(x).toBeCloseTo(want[i], 12));
    expect(r.meanNll).toBeCloseTo(want.reduce((a, b) => a + b, 0) / 7, 12);
  });

  it('a last window of one token has nothing to predict and is not run', async () => {
    const be = new FakeBackend(fakeSpec(V, 64), stepModel(V));
    const r = await nllOfIds(be, ids.slice(0, 9), { ctx: 4 });
    expect(be.calls).toEqual([ids.slice(0, 4), ids.slice(4, 8)]);
    expect(r.windows).toBe(2);
    expect(r.scored).toBe(6);
  });

  it('the window is capped at the model\'s context length', async () => {
    const be = new FakeBackend(fakeSpec(V, 5), stepModel(V));
    const r = await nllOfIds(be, ids, { ctx: 100 });
    expect(be.calls).toEqual([ids.slice(0, 5), ids.slice(5, 10)]);
    expect(r.scored).toBe(8);
  });

  it('reports the number of tokens and the position each NLL belongs to', async () => {
    const be = new FakeBackend(fakeSpec(V, 64), stepModel(V));
    const r = await nllOfIds(be, ids.slice(0, 9), { ctx: 4 });
    expect(r.tokens).toBe(9);
    // positions of the predicted tokens: 1..3 (window 1), 5..7 (window 2); 4 and 8 start windows
    expect(r.positions).toEqual([1, 2, 3, 5, 6, 7]);
  });

  it('guards: fewer than 2 tokens, a window below 2 tokens, NaN logits', async () => {
    const be = new FakeBackend(fakeSpec(V, 64), stepModel(V));
    await expect(nllOfIds(be, [])).rejects.toThrow(/at least 2 tokens.*got 0/);
    await expect(nllOfIds(be, [3])).rejects.toThrow(/at least 2 tokens.*got 1/);
    for (const ctx of [0, 1, -4, 2.5, NaN]) await expect(nllOfIds(be, ids, { ctx })).rejects.toThrow(/ctx must be an integer >= 2/);
    expect(be.calls.length).toBe(0);
    const bad = new FakeBackend(fakeSpec(V, 64), (w, j, v) => (j === 2 ? NaN : stepModel(V)(w, j, v)));
    await expect(nllOfIds(bad, ids)).rejects.toThrow(/not finite|NaN/);
  });
});

describe('nll.ts helpers by hand', () => {
  it('logSumExp is exact on small cases and stable on large ones', () => {
    expect(logSumExp(new Float32Array([0, Math.log(3)]), 0, 2)).toBeCloseTo(Math.log(4), 6);
    expect(logSumExp(new Float32Array([9, 9, 1000, 1000]), 1, 2)).toBeCloseTo(1000 + Math.log(2), 10);
    expect(logSumExp(new Float32Array([-1000, -1000]), 0, 2)).toBeCloseTo(-1000 + Math.log(2), 10);
    expect(logSumExp(new Float32Array([-Infinity, -Infinity]), 0, 2)).toBe(-Infinity);
  });

  it('tokenNll: row j predicts ids[j + 1]; from/to select rows', () => {
    // V = 3; row 0 = [0, 0, 0] (uniform, NLL log 3); row 1 = [ln 2, 0, 0] (p = 1/2, 1/4, 1/4)
    const logits = new Float32Array([0, 0, 0, Math.log(2), 0, 0, 0, 0, 0]);
    const got = tokenNll(logits, 3, [2, 0, 1]);
    expect(got[0]).toBeCloseTo(Math.log(3), 6);
    expect(got[1]).toBeCloseTo(Math.log(4), 6);
    expect(tokenNll(logits, 3, [2, 0, 1], 1, 2)).toHaveLength(1);
    expect(() => tokenNll(logits, 3, [2, 7, 1])).toThrow(/outside the vocabulary/);
    expect(mean([])).toBeNaN();
  });
});
