// Whole-model gradient check of src/core/grad/backward.ts on tiny random models of both graphs:
//   - the float64 forward equals the f32 reference forward (src/core/model/forward.ts) to f32 accuracy;
//   - dL/dW for a few entries of every kind of tensor and dL/dh at a few (layer, token, point) places of
//     the residual stream equal central finite differences of the loss (float64);
//   - the loss agrees with the mean next-token NLL computed by the test from the reference logits.
import { describe, expect, it } from 'vitest';
import { GradModel } from '../../src/core/grad/backward.ts';
import { ReferenceModel, newKvCache } from '../../src/core/model/forward.ts';
import type { LoadedModel } from '../../src/core/formats/types.ts';
import { expectAllClose } from '../helpers/close.ts';
import { logSoftmax } from './analysis-fixtures.ts';
import { tinyGpt2, tinyLlama } from './grad-fixtures.ts';
import { numGrad } from './grad-fd.ts';

const ids = [1, 5, 9, 3, 7, 7, 4];
const TOL = { atol: 1e-8, rtol: 1e-5 };

const cases: [string, () => LoadedModel][] = [
  ['llama, RoPE adjacent, GQA 4/2', () => tinyLlama('adjacent')],
  ['llama, RoPE half, q/k/v bias, tied', () => tinyLlama('half', { qkvBias: true, tied: true })],
  ['gpt2 (LayerNorm, fused QKV, GELU, biases, learned positions, tied)', tinyGpt2],
];

describe.each(cases)('whole-model gradients: %s', (_name, make) => {
  const model = make();
  const gm = new GradModel(model);

  it('f64 forward = f32 reference forward; loss = mean NLL of the reference logits', () => {
    const r = gm.lossAndGrad(ids);
    const ref = new ReferenceModel(model).run(ids, newKvCache(model.spec, ids.length));
    expectAllClose(r.logits, ref.logits, { atol: 2e-5, rtol: 2e-5 }, 'logits');
    const V = model.spec.vocabSize;
    let nll = 0;
    for (let t = 0; t + 1 < ids.length; t++) nll -= logSoftmax(ref.logits, t, V)[ids[t + 1]];
    expect(r.loss).toBeCloseTo(nll / (ids.length - 1), 5);
  });

  it('dL/dW of every tensor (a few entries each) = finite differences', () => {
    const r = gm.lossAndGrad(ids);
    expect([...r.weights.keys()].sort()).toEqual([...model.tensors.keys()].sort());
    for (const [name, w] of gm.weights) {
      const g = r.weights.get(name)!;
      expect(g.length).toBe(w.length);
      // three spread entries, plus for the token table a row that a token reads
      const picks = [0, Math.floor(w.length / 2), w.length - 1];
      if (name === 'token_embd') picks.push(9 * model.spec.dModel + 2);
      const fd = numGrad(() => gm.loss(ids), w, 1e-5, picks);
      expectAllClose(picks.map((i) => g[i]), fd, TOL, name);
    }
  });

  it('dL/dh of the residual stream at (layer, token, point) = finite differences', () => {
    const r = gm.lossAndGrad(ids);
    const C = model.spec.dModel;
    for (const [l, point, t] of [[0, 'in', 0], [0, 'mid', 2], [1, 'out', 3], [1, 'mid', 6], [1, 'in', 5]] as const) {
      const name = `blk.${l}.${point}`;
      const fd: number[] = [];
      for (const c of [0, 3, C - 1]) {
        const at = (h: number) => gm.loss(ids, { perturb: (n, x) => { if (n === name) x[t * C + c] += h; } });
        fd.push((at(1e-5) - at(-1e-5)) / 2e-5);
      }
      const got = [0, 3, C - 1].map((c) => r.resid[name][t * C + c]);
      expectAllClose(got, fd, TOL, name);
    }
    // the last token's residual cannot change the loss (it has no target and nothing reads it later)
    const last = r.resid['blk.0.out'].subarray((ids.length - 1) * C, ids.length * C);
    expect(Math.max(...Array.from(last, Math.abs))).toBe(0);
  });

  it('interventions: scale s on a sublayer -> dL/ds = sum_t <dL/dh_after_add, f> (FD in s)', () => {
    const r = gm.lossAndGrad(ids);
    const C = model.spec.dModel;
    for (const sub of ['attn', 'mlp'] as const) {
      const point = sub === 'attn' ? 'mid' : 'out';
      const f = r.taps[`blk.1.${sub}_out`];
      const g = r.resid[`blk.1.${point}`];
      let exact = 0;
      for (let i = 0; i < ids.length * C; i++) exact += g[i] * f[i];
      const at = (s: number) => gm.loss(ids, { interventions: [{ kind: 'scale', layer: 1, sublayer: sub, factor: s }] });
      const fd = (at(1 + 1e-5) - at(1 - 1e-5)) / 2e-5;
      expectAllClose([exact], [fd], TOL, sub);
    }
    // a scaled forward's own weight gradient is still exact
    const iv = [{ kind: 'scale' as const, layer: 0, sublayer: 'mlp' as const, factor: 0.5 }, { kind: 'skip-attn' as const, layer: 1 }];
    const rs = gm.lossAndGrad(ids, { interventions: iv });
    const w = gm.weights.get('blk.0.ffn_down')!;
    const fd = numGrad(() => gm.loss(ids, { interventions: iv }), w, 1e-5, [1, 7]);
    expectAllClose([rs.weights.get('blk.0.ffn_down')![1], rs.weights.get('blk.0.ffn_down')![7]], fd, TOL, 'scaled');
    expect(rs.weights.has('blk.1.attn_output')).toBe(false);
  });
});
