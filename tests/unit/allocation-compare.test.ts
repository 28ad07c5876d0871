// compareModels on stories260K (CPU backend): an all-Q8_0 allocation stays within KL < 0.01 of the F32
// model (issue 4), and every number equals an independent computation in this file (two forwards, a
// float64 log-softmax, KL, NLL and argmax written here), also with a drop intervention.
import { describe, expect, it } from 'vitest';
import { readModelBytes } from '../helpers/models.ts';
import { expectAllClose } from '../helpers/close.ts';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { applyAllocation } from '../../src/core/allocation/apply-weights.ts';
import { compareModels, withInterventions } from '../../src/core/allocation/compare.ts';
import { ALLOCATION_SCHEMA } from '../../src/core/allocation/schema.ts';

const model = loadModelFromFiles([{ name: 'stories260K.gguf', bytes: readModelBytes('stories260K-gguf/stories260K.gguf') }], { contextLength: 512 });
const head = { schema: ALLOCATION_SCHEMA, model: { name: 'stories260K', arch: 'llama', nLayers: 5 } };
const ids = model.tokenizer.encode('Once upon a time, there was a little girl named Lily. She loved to play outside in the park.', { addBos: true });

function logSoftmax(z: Float32Array, o: number, V: number): number[] {
  let m = -Infinity;
  for (let v = 0; v < V; v++) m = Math.max(m, z[o + v]);
  let s = 0;
  for (let v = 0; v < V; v++) s += Math.exp(z[o + v] - m);
  const out: number[] = [];
  for (let v = 0; v < V; v++) out.push(z[o + v] - m - Math.log(s));
  return out;
}

async function independent(a: Float32Array, b: Float32Array, V: number) {
  const T = ids.length;
  let nllA = 0, nllB = 0, kl = 0, agree = 0;
  const klPer: number[] = [];
  for (let t = 0; t < T; t++) {
    const la = logSoftmax(a, t * V, V);
    const lb = logSoftmax(b, t * V, V);
    let k = 0;
    for (let v = 0; v < V; v++) k += Math.exp(la[v]) * (la[v] - lb[v]);
    klPer.push(k);
    kl += k;
    if (la.indexOf(Math.max(...la)) === lb.indexOf(Math.max(...lb))) agree++;
    if (t < T - 1) { nllA -= la[ids[t + 1]]; nllB -= lb[ids[t + 1]]; }
  }
  return { nllA: nllA / (T - 1), nllB: nllB / (T - 1), kl: kl / T, klPer, top1: agree / T };
}

describe('compareModels', () => {
  it('all-Q8_0 vs F32: KL < 0.01 and every figure equals the independent computation', async () => {
    const applied = applyAllocation(model, { ...head, layers: Object.fromEntries([0, 1, 2, 3, 4].map((l) => [l, { format: 'Q8_0' }])) });
    const base = new CpuBackend(model);
    const mod = new CpuBackend(applied.model);
    const r = await compareModels(base, mod, ids, { interventions: applied.interventions, size: applied.size, decodeTokens: 3 });
    const want = await independent((await base.forward(ids)).logits, (await mod.forward(ids)).logits, model.spec.vocabSize);
    expect(r.kl).toBeLessThan(0.01);
    expect(r.kl).toBeGreaterThan(0);
    expectAllClose([r.base.meanNll, r.modified.meanNll, r.kl, r.top1], [want.nllA, want.nllB, want.kl, want.top1], { atol: 1e-9, rtol: 1e-9 });
    expectAllClose(r.klPerToken, want.klPer, { atol: 1e-9, rtol: 1e-9 });
    expectAllClose([r.base.ppl, r.modified.ppl], [Math.exp(want.nllA), Math.exp(want.nllB)], { atol: 0, rtol: 1e-9 });
    expect(r.scored).toBe(ids.length - 1);
    expect(r.size?.residentBytes).toBe(applied.size.residentBytes);
    for (const x of [r.base.prefillTokensPerSecond, r.modified.prefillTokensPerSecond, r.base.decodeTokensPerSecond, r.modified.decodeTokensPerSecond]) expect(x).toBeGreaterThan(0);
  });

  it('applies the allocation\'s drops to the modified forward only', async () => {
    const applied = applyAllocation(model, { ...head, layers: { 2: { drop: 'block' } } });
    expect(applied.interventions).toEqual([{ kind: 'skip-block', layer: 2 }]);
    const base = new CpuBackend(model);
    const r = await compareModels(base, new CpuBackend(applied.model), ids, { interventions: applied.interventions, decodeTokens: 0 });
    const want = await independent((await base.forward(ids)).logits, (await base.forward(ids, { interventions: [{ kind: 'skip-block', layer: 2 }] })).logits, model.spec.vocabSize);
    expectAllClose([r.base.meanNll, r.modified.meanNll, r.kl, r.top1], [want.nllA, want.nllB, want.kl, want.top1], { atol: 1e-9, rtol: 1e-9 });
    expect(r.kl).toBeGreaterThan(0.01);
    expect(Number.isNaN(r.modified.decodeTokensPerSecond)).toBe(true);
  });

  it('withInterventions adds the drops to forward and session appends', async () => {
    const b = new CpuBackend(model);
    const iv = [{ kind: 'skip-mlp' as const, layer: 1 }];
    const v = withInterventions(b, iv);
    const want = await b.forward(ids, { interventions: iv });
    expectAllClose((await v.forward(ids)).logits, want.logits, { atol: 0, rtol: 0 });
    const s = v.session();
    await s.append(ids.slice(0, 5));
    const last = await s.append(ids.slice(5), { logits: 'last' });
    const V = model.spec.vocabSize;
    expectAllClose(last.logits, want.logits.subarray((ids.length - 1) * V), { atol: 1e-5, rtol: 1e-5 });
    expect(s.position).toBe(ids.length);
    s.dispose();
  });

  it('refuses a text shorter than 2 tokens', async () => {
    const b = new CpuBackend(model);
    await expect(compareModels(b, b, [1])).rejects.toThrow(/at least 2 tokens/);
  });
});
