// Two gaps of the engine's allocation API closed on the CPU backend (stories260K):
// 1. cancel inside compare: compareModels checks the cancel token between its forwards and before every
//    decode token, so a cancel raised while the comparison runs rejects with CancelledError promptly
//    (at most one more session append after the flag is set), and the Engine stays usable (the next
//    compare gives the numbers of an uncancelled one).
// 2. GGUF download round trip: a plan mixing a dropped block with Q8_0 and Q4_0 tensors exported through
//    Engine.exportAllocation for the GGUF source, parsed back by src/core/formats/gguf.ts: block count,
//    renumbered names and ggml types as the plan says (expected by hand from the plan), and the logits of
//    the file loaded as a model equal the engine's modified model (applyAllocation + CpuBackend with the
//    drop intervention) within 1e-4; the llama2.c source is refused.
// 3. Wanda masks in compare use the input norms of the evaluation text: the engine's modified NLL equals
//    the plan applied with norms computed here by hand (RMS norm of the block's residual taps times the
//    norm weight, then sqrt of the sum of squares over the tokens), and differs from the per-row-magnitude
//    fallback.
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/worker/engine.ts';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { CancelledError } from '../../src/core/eval/perplexity.ts';
import { parseGguf } from '../../src/core/formats/gguf.ts';
import { GGMLType } from '../../src/core/quant/types.ts';
import type { LoadedModel } from '../../src/core/formats/types.ts';
import { applyAllocation, compareModels } from '../../src/core/allocation/index.ts';
import type { Backend } from '../../src/core/model/backend.ts';
import { readModelBytes } from '../helpers/models.ts';
import { expectAllClose } from '../helpers/close.ts';

const TEXT = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.';

async function ggufEngine(): Promise<Engine> {
  const e = new Engine(async () => null);
  await e.load({ kind: 'files', files: [{ name: 'stories260K.gguf', bytes: readModelBytes('stories260K-gguf/stories260K.gguf') }] }, { backend: 'cpu', contextLength: 512 });
  return e;
}

/** A view of `b` that counts session appends and raises `token.cancelled` after `after` of them. */
function countingBackend(b: Backend, token: { cancelled: boolean }, after: number): { backend: Backend; appends: () => number } {
  let n = 0;
  const backend: Backend = {
    spec: b.spec,
    info: () => b.info(),
    forward: (ids, o) => b.forward(ids, o),
    session: (max) => {
      const s = b.session(max);
      return {
        get position() { return s.position; },
        append: async (ids, o) => {
          n++;
          if (n >= after) token.cancelled = true;
          return s.append(ids, o);
        },
        reset: () => s.reset(),
        dispose: () => s.dispose(),
      };
    },
    peakBytes: () => b.peakBytes(),
    dispose: () => {},
  };
  return { backend, appends: () => n };
}

describe('compare: cooperative cancel', () => {
  it('compareModels stops within one decode token of the cancel', async () => {
    const e = await ggufEngine();
    const { model, backend } = e.current;
    const ids = model.tokenizer.encode(TEXT).slice(0, 24);
    const token = { cancelled: false };
    // append 1 = prefill of the first ids, then one per decode token: cancel raised during the 3rd append
    const c = countingBackend(backend, token, 3);
    await expect(compareModels(c.backend, backend, ids, { decodeTokens: 16, cancel: token })).rejects.toBeInstanceOf(CancelledError);
    expect(c.appends()).toBe(3);
    // cancelled before it starts: no forward at all
    let forwards = 0;
    const spy: Backend = { ...countingBackend(backend, { cancelled: false }, Infinity).backend, forward: (x, o) => { forwards++; return backend.forward(x, o); } };
    await expect(compareModels(spy, spy, ids, { cancel: { cancelled: true } })).rejects.toThrow(/cancelled/);
    expect(forwards).toBe(0);
  });

  it('Engine.cancel during compare rejects with the cancel error; the engine stays usable', async () => {
    const e = await ggufEngine();
    const allocation = { schema: 'layerlab.allocation/1', model: { name: 'stories260K', arch: 'llama', nLayers: 5 }, layers: { 1: { format: 'Q4_0' } } };
    const req = { allocation, text: TEXT, maxTokens: 20, decodeTokens: 8 };
    // The cancel comes while compareModels runs (after the step tick that checks it): only compareModels' own checks can stop it.
    const seen: string[] = [];
    const p = e.compare(req, (ev) => {
      seen.push(ev.what);
      if (ev.what === 'compare on the text') void e.cancel();
    });
    const err = await p.then(() => null, (x: unknown) => x);
    expect(err).toBeInstanceOf(CancelledError);
    expect((err as Error).message).toBe('cancelled');
    expect(seen).not.toContain('compare');
    // usable afterwards: a new compare runs to the end with the numbers of a compare on a fresh engine
    const r = await e.compare(req);
    const fresh = await (await ggufEngine()).compare(req);
    expect([r.base.meanNll, r.modified.meanNll, r.kl, r.top1]).toEqual([fresh.base.meanNll, fresh.modified.meanNll, fresh.kl, fresh.top1]);
    expect(r.kl).toBeGreaterThan(0);
    const f = await e.forward({ text: 'Once' });
    expect(f.logits.length).toBe(f.T * f.vocabSize);
  });
});

describe('export: the modified model as GGUF, read back', () => {
  it('drop + Q8_0 / Q4_0 tensors: block count, renumbered names, types, and logits of the modified model', async () => {
    const e = await ggufEngine();
    const allocation = {
      schema: 'layerlab.allocation/1',
      model: { name: 'stories260K', arch: 'llama', nLayers: 5 },
      layers: { 0: { format: 'Q8_0' }, 2: { drop: 'block' } },
      tensors: { 'blk.3.attn_q': { format: 'Q4_0' }, 'blk.4.ffn_up': { format: 'Q8_0' }, 'blk.4.attn_v': { format: 'Q4_0' } },
    };
    const x = await e.exportAllocation({ allocation, to: 'gguf' });
    const g = parseGguf(x.bytes!);
    expect(Number(g.metadata.get('llama.block_count'))).toBe(4);
    const types = new Map(g.tensors.map((t) => [t.name, t.type]));
    // blocks 0, 1, 3, 4 -> 0, 1, 2, 3; no blk.4 left
    for (const t of g.tensors) {
      const m = /^blk\.(\d+)\./.exec(t.name);
      if (m) expect(Number(m[1])).toBeLessThan(4);
    }
    // block 0 at Q8_0 (every linear weight; rows of 64 and of 172 = not a multiple of 32 for ffn_down fall back)
    for (const s of ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up']) expect(types.get(`blk.0.${s}.weight`)).toBe(GGMLType.Q8_0);
    expect(types.get('blk.0.ffn_down.weight')).not.toBe(GGMLType.Q8_0);
    // old block 3 -> 2, old 4 -> 3
    expect(types.get('blk.2.attn_q.weight')).toBe(GGMLType.Q4_0);
    expect(types.get('blk.2.attn_k.weight')).toBe(GGMLType.F32);
    expect(types.get('blk.3.ffn_up.weight')).toBe(GGMLType.Q8_0);
    expect(types.get('blk.3.attn_v.weight')).toBe(GGMLType.Q4_0);
    // block 1 untouched (F32 as in the source)
    expect(types.get('blk.1.attn_q.weight')).toBe(GGMLType.F32);
    // norms of the renumbered blocks are there
    for (let l = 0; l < 4; l++) expect(types.has(`blk.${l}.attn_norm.weight`)).toBe(true);

    // logits: the file loaded as a model vs the engine's modified model (weights applied + drop intervention)
    const { model } = e.current;
    const ids = model.tokenizer.encode(TEXT).slice(0, 16);
    const applied = applyAllocation(model, allocation);
    expect(applied.interventions).toEqual([{ kind: 'skip-block', layer: 2 }]);
    const want = await new CpuBackend(applied.model).forward(ids, { interventions: applied.interventions });
    const back = new Engine(async () => null);
    const info = await back.load({ kind: 'files', files: [{ name: 'modified.gguf', bytes: x.bytes! }] }, { backend: 'cpu', contextLength: 512 });
    expect(info.spec.nLayers).toBe(4);
    const got = await back.forward({ ids });
    expectAllClose(got.logits, want.logits, { atol: 1e-4, rtol: 0 });
    // and the file is a different model than the original (the plan did something)
    const orig = await e.forward({ ids });
    expect(Math.max(...orig.logits.map((v, i) => Math.abs(v - got.logits[i])))).toBeGreaterThan(1e-3);
  });

  it('the llama2.c default is refused with a reason', async () => {
    const e = new Engine(async () => null);
    await e.load({ kind: 'files', files: [{ name: 'stories260K.bin', bytes: readModelBytes('stories260K/stories260K.bin') }, { name: 'tok512.bin', bytes: readModelBytes('stories260K/tok512.bin') }] }, { backend: 'cpu' });
    const allocation = { schema: 'layerlab.allocation/1', model: { name: 'stories260K', arch: 'llama', nLayers: 5 }, layers: { 2: { drop: 'block' } } };
    await expect(e.exportAllocation({ allocation, to: 'gguf' })).rejects.toThrow(/needs a GGUF source model/);
  });
});

describe('compare: Wanda masks get the input norms of the text', () => {
  const f32 = (m: LoadedModel, name: string): Float32Array => {
    const t = m.tensors.get(name)!;
    expect(t.type).toBe(GGMLType.F32);
    return new Float32Array(t.data.slice().buffer);
  };
  /** ||X_j|| of RMSNorm(h) * g over T rows of width C, by hand. */
  const normsOf = (h: Float32Array, g: Float32Array, T: number, C: number, eps: number): Float32Array => {
    const s = new Float64Array(C);
    for (let t = 0; t < T; t++) {
      let ms = 0;
      for (let j = 0; j < C; j++) ms += h[t * C + j] ** 2;
      const r = 1 / Math.sqrt(ms / C + eps);
      for (let j = 0; j < C; j++) s[j] += (h[t * C + j] * r * g[j]) ** 2;
    }
    return Float32Array.from(s, Math.sqrt);
  };

  it('the modified NLL equals the plan applied with hand-computed norms', async () => {
    const e = await ggufEngine();
    const { model, backend } = e.current;
    const allocation = {
      schema: 'layerlab.allocation/1', model: { name: 'stories260K', arch: 'llama', nLayers: 5 },
      tensors: { 'blk.1.ffn_up': { sparsity: { method: 'wanda', ratio: 0.6 } }, 'blk.3.attn_q': { sparsity: { method: 'wanda', ratio: 0.6 } } },
    };
    const r = await e.compare({ allocation, text: TEXT, maxTokens: 20, decodeTokens: 0 });
    expect(r.tensors.find((t) => t.name === 'blk.1.ffn_up')?.notes.join(' ')).toMatch(/Wanda scores with input norms/);
    const ids = model.tokenizer.encode(TEXT).slice(0, 20);
    const T = ids.length;
    const C = model.spec.dModel;
    const f = await e.forward({ ids, taps: ['blk.1.mid', 'blk.3.in'] });
    const eps = model.spec.norm.eps;
    const inputNorms = {
      'blk.1.ffn_up': normsOf(f.taps['blk.1.mid'], f32(model, 'blk.1.ffn_norm'), T, C, eps),
      'blk.3.attn_q': normsOf(f.taps['blk.3.in'], f32(model, 'blk.3.attn_norm'), T, C, eps),
    };
    const byHand = await compareModels(backend, new CpuBackend(applyAllocation(model, allocation, { inputNorms }).model), ids, { decodeTokens: 0 });
    expect(r.modified.meanNll).toBeCloseTo(byHand.modified.meanNll, 9);
    expect(r.kl).toBeCloseTo(byHand.kl, 9);
    const noNorms = await compareModels(backend, new CpuBackend(applyAllocation(model, allocation).model), ids, { decodeTokens: 0 });
    expect(Math.abs(noNorms.modified.meanNll - r.modified.meanNll)).toBeGreaterThan(1e-6);

    // the GGUF export takes the norms from its text when it has one, and says so when it has none
    const withText = await e.exportAllocation({ allocation, to: 'gguf', text: TEXT, maxTokens: 20 });
    expect((withText.extra.notes as string[]).join('\n')).not.toMatch(/without input norms/);
    const back = new Engine(async () => null);
    await back.load({ kind: 'files', files: [{ name: 'w.gguf', bytes: withText.bytes! }] }, { backend: 'cpu', contextLength: 512 });
    const fb = await back.forward({ ids });
    const fw = await new CpuBackend(applyAllocation(model, allocation, { inputNorms }).model).forward(ids);
    expectAllClose(fb.logits, fw.logits, { atol: 1e-4, rtol: 0 });
    const noText = await e.exportAllocation({ allocation, to: 'gguf' });
    expect((noText.extra.notes as string[]).join('\n')).toMatch(/blk\.1\.ffn_up: Wanda mask without input norms/);
  });
});
