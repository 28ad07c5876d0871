// Gradient metrics (src/core/metrics/taylor.ts, fisher.ts, zo.ts) against independent answers:
//   - taylor: on a tiny model whose block-1 MLP / attention contribution is scaled small, the signed term
//     predicts the actual loss change of skipping that sublayer (first-order agreement), and per-token
//     values equal finite differences of removing the block at one token only (residual perturbation);
//   - fisher: per-tensor means equal squared finite-difference gradients averaged by the test;
//   - zo: exact on a quadratic loss by construction; on the CPU backend its estimates agree with the
//     exact directional derivatives; a zero block scores 0 and ranks last (analysis run).
import { describe, expect, it } from 'vitest';
import { GradModel } from '../../src/core/grad/backward.ts';
import * as taylor from '../../src/core/metrics/taylor.ts';
import * as fisher from '../../src/core/metrics/fisher.ts';
import * as zo from '../../src/core/metrics/zo.ts';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { tensorToF32 } from '../../src/core/model/weights.ts';
import { analyze, toReport } from '../../src/core/analysis/index.ts';
import { expectAllClose } from '../helpers/close.ts';
import { tinyModel, withTensors } from './analysis-fixtures.ts';
import { tinyGpt2, tinyLlama } from './grad-fixtures.ts';
import { numGrad } from './grad-fd.ts';

const texts = [[1, 5, 9, 3, 7, 7, 4, 2], [1, 8, 8, 3, 10]];

describe('taylor', () => {
  for (const [name, make] of [['llama', () => tinyLlama('adjacent')], ['gpt2', tinyGpt2]] as const) {
    it(`${name}: small sublayer -> signed term = -(actual loss change of skipping it) to first order`, () => {
      const base = make();
      // scale the sublayers' output projections (and their biases, GPT-2) so that f is small
      const names = ['blk.1.ffn_down', 'blk.0.attn_output'].flatMap((n) => [n, `${n}.bias`]).filter((n) => base.tensors.has(n));
      const small = withTensors(base, Object.fromEntries(names.map((n) => [n, tensorToF32(base.tensors.get(n)!).map((v) => v * 0.02)])));
      const gm = new GradModel(small);
      const s = taylor.compute({ grad: gm, ids: texts });
      const signed = s.extra!.signed as { block: number[]; attn: number[]; mlp: number[] };
      const scored = taylor.scoredTokens(texts);
      const lossOf = (iv: Parameters<GradModel['loss']>[1]) => texts.reduce((a, x) => a + gm.loss(x, { ...iv, lossDenominator: scored }), 0);
      const L0 = lossOf({});
      const dMlp = lossOf({ interventions: [{ kind: 'skip-mlp', layer: 1 }] }) - L0;
      const dAttn = lossOf({ interventions: [{ kind: 'skip-attn', layer: 0 }] }) - L0;
      expect(Math.abs(dMlp + signed.mlp[1])).toBeLessThan(0.05 * Math.abs(signed.mlp[1]));
      expect(Math.abs(dAttn + signed.attn[0])).toBeLessThan(0.05 * Math.abs(signed.attn[0]));
      expect(s.perSublayer!.mlp[1]).toBeCloseTo(Math.abs(signed.mlp[1]), 15);
      expect(s.extra!.gradientBackend).toBe('cpu');
      expect(s.extra!.loss).toBeCloseTo(L0, 12);
    });
  }

  it('perToken[l][t] = |d/de L(out_l[t] + e (out - in)[t])| by finite differences', () => {
    const gm = new GradModel(tinyLlama('half', { qkvBias: true }));
    const ids = [texts[0]];
    const s = taylor.compute({ grad: gm, ids });
    const C = gm.spec.dModel;
    const base = gm.lossAndGrad(ids[0]);
    for (const [l, t] of [[0, 1], [1, 4], [1, 0]]) {
      const hin = base.taps[`blk.${l}.in`];
      const hout = base.taps[`blk.${l}.out`];
      const at = (e: number) => gm.loss(ids[0], { perturb: (n, x) => { if (n === `blk.${l}.out`) for (let c = 0; c < C; c++) x[t * C + c] += e * (hout[t * C + c] - hin[t * C + c]); } });
      const fd = (at(1e-5) - at(-1e-5)) / 2e-5;
      expectAllClose([s.perToken![l][t]], [Math.abs(fd)], { atol: 1e-8, rtol: 1e-5 }, `block ${l} token ${t}`);
    }
  });
});

describe('fisher', () => {
  it('per-tensor mean squared gradient over texts = the same from finite differences', () => {
    const gm = new GradModel(tinyLlama('adjacent'));
    const s = fisher.compute({ grad: gm, ids: [...texts, [4]] });
    expect(s.extra!.samples).toBe(2);
    for (const name of ['blk.0.attn_norm', 'blk.1.ffn_norm', 'output_norm']) {
      const w = gm.weights.get(name)!;
      const f = new Float64Array(w.length);
      for (const x of texts) numGrad(() => gm.loss(x), w).forEach((g, i) => (f[i] += (g * g) / texts.length));
      const want = f.reduce((a, v) => a + v, 0) / w.length;
      expectAllClose([s.perTensor![name]], [want], { atol: 1e-12, rtol: 1e-5 }, name);
    }
    // perBlock is the entry-weighted mean over the block's tensors
    const pt = s.perTensor!;
    const names = [...gm.weights.keys()].filter((n) => n.startsWith('blk.1.'));
    const num = names.reduce((a, n) => a + pt[n] * gm.weights.get(n)!.length, 0);
    const den = names.reduce((a, n) => a + gm.weights.get(n)!.length, 0);
    expect(s.perBlock[1]).toBeCloseTo(num / den, 14);
  });
});

describe('zo', () => {
  it('is exact on a quadratic loss in the scale (central difference), relative errors vs the exact terms', async () => {
    // L(s) = 1 + b (s - 1) + c (s - 1)^2 per probed layer/sublayer -> d/ds at 1 = b.
    const b = { attn: [0.3, -0.2], mlp: [0.05, 0.4] };
    const loss: zo.LossFn = async (ivs) => {
      let v = 1;
      for (const iv of ivs) if (iv.kind === 'scale') v += b[iv.sublayer][iv.layer] * (iv.factor - 1) + 7 * (iv.factor - 1) ** 2;
      return v;
    };
    const exact: taylor.TaylorTerms = { block: [[0], [0]], attn: [[0.3], [-0.1]], mlp: [[0.05], [0.4]], loss: 1, scored: 1 };
    const s = await zo.compute({ nLayers: 2, loss, exact, eps: 0.1 });
    const x = s.extra as { signed: { attn: number[]; mlp: number[]; block: number[] }; relErr: { attn: number[] } };
    expectAllClose(x.signed.attn, [0.3, -0.2], { atol: 1e-12, rtol: 0 });
    expectAllClose(x.signed.block, [0.35, 0.2], { atol: 1e-12, rtol: 0 });
    expectAllClose(x.relErr.attn, [0, 1], { atol: 1e-9, rtol: 0 });
    expect(s.perBlock).toEqual(x.signed.block.map(Math.abs));
  });

  it('on the CPU backend (f32 forwards) it comes within 1e-2 of the exact gradient terms', async () => {
    const m = tinyLlama('adjacent');
    const gm = new GradModel(m);
    const exact = taylor.taylorTerms({ grad: gm, ids: texts });
    const s = await zo.compute({ nLayers: 2, loss: zo.backendLoss(new CpuBackend(m), texts), exact, forwardBackend: 'cpu' });
    const x = s.extra as { maxRelErr: number; exact: { block: number[] } };
    expect(x.maxRelErr).toBeLessThan(1e-2);
    // block exact = attn + mlp total derivative: check against a float64 FD of scaling both
    const scored = taylor.scoredTokens(texts);
    const at = (f: number) => texts.reduce((a, ids) => a + gm.loss(ids, { lossDenominator: scored, interventions: [{ kind: 'scale', layer: 0, sublayer: 'attn', factor: f }, { kind: 'scale', layer: 0, sublayer: 'mlp', factor: f }] }), 0);
    expectAllClose([x.exact.block[0]], [(at(1 + 1e-5) - at(1 - 1e-5)) / 2e-5], { atol: 1e-8, rtol: 1e-5 });
  });
});

describe('analyze --metrics taylor,fisher,zo', () => {
  it('runs on the CPU backend; a zero block scores 0 and ranks last for taylor and zo; report fields', async () => {
    const model = tinyModel({ zeroBlock: 2, bigBlock: 0 });
    const r = await analyze(new CpuBackend(model), model, { ids: texts, metrics: ['taylor', 'fisher', 'zo', 'agreement'] });
    expect(r.scores.map((s) => s.metricId)).toEqual(['taylor', 'fisher', 'zo']);
    for (const id of ['taylor', 'zo']) {
      const s = r.scores.find((x) => x.metricId === id)!;
      expect(s.perBlock[2]).toBe(0);
      expect(s.ranking[3]).toBe(2);
      expect(s.extra!.gradientBackend).toBe('cpu');
    }
    const rep = toReport(r);
    const z = rep.metrics.find((m) => m.id === 'zo')!;
    expect(z.details!.forwardBackend).toBe('cpu');
    expect(z.paper).toMatch(/2310\.02998/);
    expect(rep.metrics.find((m) => m.id === 'fisher')!.tensors!.length).toBe(model.tensors.size);
    expect(rep.metrics.find((m) => m.id === 'taylor')!.paper).toMatch(/1906\.10771/);
    expect(r.agreement!.ids).toEqual(['taylor', 'fisher', 'zo']);
  });
});
