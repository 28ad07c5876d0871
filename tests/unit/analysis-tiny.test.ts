// analyze() on a hand-built tiny model whose answer is known by construction: block 2's linear weights
// are zero (it cannot change anything: least important by every activation, ablation and quantization
// metric, with exact zeros), block 0's output projections are scaled up 12x (its output dominates the
// residual stream: most important). The large block comes first so that no other block's quantization
// error is amplified by it: every later block's error is small relative to the stream it is added to.
// Ablation and quantization numbers are checked against plain forwards of models edited by hand (block
// removed, tensor zeroed, weights quantized by the test's own code) with KL / NLL / top-1 computed in
// the test.
import { describe, expect, it } from 'vitest';
import { analyze, toReport } from '../../src/core/analysis/index.ts';
import { CancelledError } from '../../src/core/eval/perplexity.ts';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { tensorToF32 } from '../../src/core/model/weights.ts';
import type { LoadedModel } from '../../src/core/formats/types.ts';
import type { QuantExtra } from '../../src/core/metrics/quant-sensitivity.ts';
import type { AblationSeries } from '../../src/core/metrics/ablation.ts';
import { pooledDivergence, tinyModel, withTensors, withZeroed, withoutBlock } from './analysis-fixtures.ts';

const ZERO = 2;
const BIG = 0;
const model = tinyModel({ zeroBlock: ZERO, bigBlock: BIG });
const texts = [
  [1, 5, 9, 3, 12, 7, 7, 4, 15, 6, 10, 3],
  [1, 8, 8, 13, 2, 11, 5],
];
const V = model.spec.vocabSize;
const L = model.spec.nLayers;

async function logitsOf(m: LoadedModel): Promise<Float32Array[]> {
  const b = new CpuBackend(m);
  return Promise.all(texts.map(async (ids) => (await b.forward(ids)).logits));
}

/** The test's own per-row absmax quantizer (not src/core/quant/plain.ts). */
function quantRows(w: Float32Array, rows: number, cols: number, bits: number): Float32Array {
  const qmax = Math.pow(2, bits - 1) - 1;
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) {
    const row = Array.from(w.subarray(r * cols, (r + 1) * cols));
    const scale = Math.fround(Math.max(...row.map(Math.abs)) / qmax);
    row.forEach((v, c) => {
      const q = scale === 0 ? 0 : Math.sign(v) * Math.min(qmax, Math.floor(Math.abs(v) / scale + 0.5));
      out[r * cols + c] = q * scale;
    });
  }
  return out;
}

const LINEARS = ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'];

function quantBlocks(m: LoadedModel, blocks: number[], bits: number): LoadedModel {
  const repl: Record<string, Float32Array> = {};
  for (const l of blocks) {
    for (const s of LINEARS) {
      const t = m.tensors.get(`blk.${l}.${s}`)!;
      repl[t.name] = quantRows(tensorToF32(t), t.shape[0], t.shape[1], bits);
    }
  }
  return withTensors(m, repl);
}

describe('analysis on a hand-built tiny model', async () => {
  const result = await analyze(new CpuBackend(model), model, {
    ids: texts,
    metrics: ['cos', 'lim', 'contrib', 'cka', 'ablation', 'quant', 'agreement'],
    bits: [8, 4],
    formats: ['Q8_0'],
    makeBackend: (m) => new CpuBackend(m),
  });
  const by = (id: string) => result.scores.find((s) => s.metricId === id)!;
  const base = await logitsOf(model);

  it('the zero block ranks least important and the scaled block most important', () => {
    for (const id of ['cos', 'contrib', 'ablation', 'quant']) {
      const s = by(id);
      expect(s.ranking[L - 1], `${id} least important`).toBe(ZERO);
      expect(s.ranking[0], `${id} most important`).toBe(BIG);
    }
    for (const id of ['lim', 'cka']) expect(by(id).ranking[L - 1], `${id} least important`).toBe(ZERO);
  });

  it('the zero block has exact zeros: no change in the stream, no effect when skipped or quantized', () => {
    expect(by('cos').perBlock[ZERO]).toBe(0);
    expect(by('contrib').perBlock[ZERO]).toBe(0);
    expect(by('contrib').perSublayer!.attn[ZERO]).toBe(0);
    const ab = by('ablation').extra as unknown as Record<'block' | 'attn' | 'mlp', AblationSeries>;
    for (const k of ['block', 'attn', 'mlp'] as const) {
      expect(ab[k].kl[ZERO]).toBe(0);
      expect(ab[k].dNll[ZERO]).toBe(0);
      expect(ab[k].top1[ZERO]).toBe(1);
    }
    const q = by('quant').extra as unknown as QuantExtra;
    for (const p of q.plain) expect(p.blocks[ZERO].kl).toBe(0);
  });

  it('ablation equals plain forwards of hand-edited models (block removed, attn_output / ffn_down zeroed)', async () => {
    const ab = by('ablation').extra as unknown as Record<'block' | 'attn' | 'mlp', AblationSeries>;
    const tol = { atol: 1e-9, rtol: 1e-9 };
    for (let l = 0; l < L; l++) {
      const cases: [keyof typeof ab, LoadedModel][] = [
        ['block', withoutBlock(model, l)],
        ['attn', withZeroed(model, [`blk.${l}.attn_output`])],
        ['mlp', withZeroed(model, [`blk.${l}.ffn_down`])],
      ];
      for (const [kind, m] of cases) {
        const want = pooledDivergence(texts, base, await logitsOf(m), V);
        expect(Math.abs(ab[kind].kl[l] - want.kl), `kl ${kind} ${l}`).toBeLessThanOrEqual(tol.atol + tol.rtol * want.kl);
        expect(Math.abs(ab[kind].dNll[l] - want.dNll), `dNll ${kind} ${l}`).toBeLessThanOrEqual(tol.atol + tol.rtol * Math.abs(want.dNll));
        expect(ab[kind].top1[l], `top1 ${kind} ${l}`).toBe(want.top1);
      }
      expect(ab.block.kl[l]).toBeGreaterThanOrEqual(0);
    }
    // perBlock is the skip-block KL, the sublayers the skip-attn / skip-mlp KL.
    expect(by('ablation').perBlock).toEqual(ab.block.kl);
    expect(by('ablation').perSublayer).toEqual({ attn: ab.attn.kl, mlp: ab.mlp.kl });
  });

  it('plain quantization sensitivity equals forwards of models quantized by the test', async () => {
    const q = by('quant').extra as unknown as QuantExtra;
    expect(q.plain.map((p) => p.bits)).toEqual([8, 4]);
    expect(q.refBits).toBe(4);
    for (const p of q.plain) {
      for (let l = 0; l < L; l++) {
        const want = pooledDivergence(texts, base, await logitsOf(quantBlocks(model, [l], p.bits!)), V);
        expect(Math.abs(p.blocks[l].kl - want.kl), `${p.bits}-bit block ${l}`).toBeLessThanOrEqual(1e-9 + 1e-9 * want.kl);
        expect(Math.abs(p.blocks[l].dNll - want.dNll)).toBeLessThanOrEqual(1e-9 + 1e-9 * Math.abs(want.dNll));
        expect(p.blocks[l].top1).toBe(want.top1);
        expect(p.blocks[l].tensors).toBe(7);
      }
      const all = pooledDivergence(texts, base, await logitsOf(quantBlocks(model, [0, 1, 2, 3], p.bits!)), V);
      expect(Math.abs(p.all.kl - all.kl)).toBeLessThanOrEqual(1e-9 + 1e-9 * all.kl);
      expect(p.all.tensors).toBe(28);
    }
    expect(by('quant').perBlock).toEqual(q.plain[1].blocks.map((b) => b.kl));
  });

  it('a GGUF format whose block does not fit the rows: every tensor skipped with the reason, NaN values', () => {
    const q = by('quant').extra as unknown as QuantExtra;
    const f = q.formats[0];
    expect(f.format).toBe('Q8_0');
    for (const b of f.blocks) {
      expect(b.kl).toBeNaN();
      expect(b.tensors).toBe(0);
      expect(b.skippedTensors).toBe(7);
    }
    expect(q.skipped.length).toBe(28);
    expect(q.skipped.find((s) => s.tensor === 'blk.0.ffn_down')!.reason).toBe('row length 12 is not a multiple of the Q8_0 block size 32');
    expect(q.skipped.find((s) => s.tensor === 'blk.3.attn_q')!.reason).toBe('row length 8 is not a multiple of the Q8_0 block size 32');
  });

  it('several texts: per-token matrices concatenate, per-block values are token-weighted means', async () => {
    expect(result.calibration.tokensPerText).toEqual([12, 7]);
    expect(result.calibration.textStarts).toEqual([0, 12]);
    const cos = by('cos');
    expect(cos.perToken![0].length).toBe(19);
    const one = await Promise.all(
      texts.map((ids) => analyze(new CpuBackend(model), model, { ids: [ids], metrics: ['cos', 'ablation'] })),
    );
    for (let l = 0; l < L; l++) {
      const c0 = one[0].scores[0].perBlock[l];
      const c1 = one[1].scores[0].perBlock[l];
      expect(cos.perBlock[l]).toBeCloseTo((12 * c0 + 7 * c1) / 19, 12);
      expect(cos.perToken![l]).toEqual([...one[0].scores[0].perToken![l], ...one[1].scores[0].perToken![l]]);
      const a0 = one[0].scores[1].perBlock[l];
      const a1 = one[1].scores[1].perBlock[l];
      expect(by('ablation').perBlock[l]).toBeCloseTo((12 * a0 + 7 * a1) / 19, 12);
    }
    // "Without position 0" leaves out the first token of each text.
    const noFirst = (cos.extra as { meanCosNoFirst: number[] }).meanCosNoFirst;
    for (let l = 0; l < L; l++) {
      const row = cos.perToken![l];
      const keep = row.filter((_, t) => t !== 0 && t !== 12);
      expect(noFirst[l]).toBeCloseTo(keep.reduce((a, b) => a + (1 - b), 0) / keep.length, 12);
    }
  });

  it('the result is plain data; the report ranks with rank 1 = most important and null for NaN', () => {
    expect(structuredClone(result)).toEqual(result);
    const rep = JSON.parse(JSON.stringify(toReport(result)));
    expect(rep.schema).toBe('layerlab.analysis/1');
    const ab = rep.metrics.find((m: { id: string }) => m.id === 'ablation');
    expect(ab.blocks.find((b: { rank: number }) => b.rank === 1).block).toBe(BIG);
    expect(ab.blocks.find((b: { rank: number }) => b.rank === L).block).toBe(ZERO);
    expect(ab.sublayers).toHaveLength(2 * L);
    expect(ab.sublayers.map((s: { rank: number }) => s.rank).sort((a: number, b: number) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const qb = rep.metrics.find((m: { id: string }) => m.id === 'quant').blocks[0];
    expect(qb.formats[0]).toEqual({ format: 'Q8_0', dNll: null, kl: null, top1: null, tensors: 0, skippedTensors: 7 });
    expect(rep.agreement.ids).toEqual(['cos', 'lim', 'contrib', 'cka', 'ablation', 'quant']);
    expect(rep.agreement.spearman[0][0]).toBe(1);
  });

  it('progress counts every forward pass and metric up to its total; cancel stops the run', async () => {
    const seen: [number, number, string][] = [];
    await analyze(new CpuBackend(model), model, {
      ids: texts, metrics: ['cos', 'ablation', 'quant'], bits: [4], formats: [], makeBackend: (m) => new CpuBackend(m),
      progress: (d, t, w) => seen.push([d, t, w]),
    });
    // 2 texts: 2 forwards with taps + cos + 3 L ablations x 2 texts + (L + 1) quant measurements x 2 texts.
    const total = 2 + 1 + 3 * L * 2 + (L + 1) * 2;
    // Each group announces itself ("<group> 0/<steps>: started", done unchanged) before its steps.
    const steps = seen.filter((x) => !x[2].endsWith(': started'));
    expect(steps.map((x) => x[0])).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(seen.every((x) => x[1] === total)).toBe(true);
    expect(seen.filter((x) => x[2].endsWith(': started')).map((x) => [x[0], x[2]])).toEqual([
      [0, 'forward 0/2: started'],
      [2, 'cos 0/1: started'],
      [3, `ablation 0/${3 * L * 2}: started`],
      [3 + 3 * L * 2, `quant 0/${(L + 1) * 2}: started`],
    ]);
    expect(steps[0][2]).toBe('forward 1/2: forward with taps: text 1 of 2');
    expect(steps[2][2]).toBe('cos 1/1: cos');
    expect(steps.some((x) => /^ablation \d+\/\d+: ablation: block 3 skip-mlp/.test(x[2]))).toBe(true);
    expect(steps[total - 1][2]).toMatch(new RegExp(`^quant ${(L + 1) * 2}/${(L + 1) * 2}: `));
    const cancel = { cancelled: false };
    const run = analyze(new CpuBackend(model), model, {
      ids: texts, metrics: ['ablation'], cancel,
      progress: (d) => {
        if (d === 5) cancel.cancelled = true;
      },
    });
    await expect(run).rejects.toBeInstanceOf(CancelledError);
  });

  it('refuses what it cannot do, with the reason', async () => {
    const b = new CpuBackend(model);
    await expect(analyze(b, model, { ids: texts, metrics: ['quant'] })).rejects.toThrow(/makeBackend/);
    await expect(analyze(b, model, { ids: texts, metrics: ['tayler'] })).rejects.toThrow(/unknown metric/);
    await expect(analyze(b, model, { ids: [[]], metrics: ['cos'] })).rejects.toThrow(/empty/);
    await expect(analyze(b, model, { ids: texts, metrics: ['quant'], formats: ['Q9_9'], makeBackend: (m) => new CpuBackend(m) })).rejects.toThrow(/unknown GGUF type/);
    await expect(analyze(b, model, { ids: texts, metrics: ['quant'], bits: [1], formats: [], makeBackend: (m) => new CpuBackend(m) })).rejects.toThrow(/bits/);
    const cut = await analyze(b, model, { ids: [Array.from({ length: 40 }, (_, i) => 3 + (i % 13))], metrics: ['cos'], maxTokens: 16 });
    expect(cut.calibration.truncated).toEqual([{ text: 0, tokens: 40 }]);
    expect(cut.calibration.tokens).toBe(16);
  });
});
