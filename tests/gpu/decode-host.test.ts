// The GPU backend's decode host path and its on-device outputs:
// - Session.step(ids, { wantLogits: false }) (on-device argmax, 4 bytes read back) gives the same ids as
//   the CPU backend's greedy id of its own logits, step by step, on stories260K and kjv-gpt2-8L (the
//   64-token greedy runs against the refs are in engine.test.ts, which goes through generate());
// - after the first decode step, further steps create no bind group and write the uniforms once
//   (the arena), counted by GpuContext.stats; the legacy path (hostCache: false) gives the same logits;
// - the taps blk.l.attn_ctx / blk.l.ffn_act equal the CPU forward's within atol 1e-5 / rtol 1e-5, with a
//   skipped attention and MLP sublayer (zeros) and a scaled one;
// - forwardOnDevice returns the taps as device buffers holding what forward() reads back (exactly).
import { describe, expect, it } from 'vitest';
import { GpuBackend } from '../../src/gpu/gpu-backend.ts';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { greedyId } from '../../src/core/model/backend.ts';
import { actTapName, ctxTapName, tapName } from '../../src/core/model/taps.ts';
import { MODELS } from '../helpers/parity.ts';
import { skipGpu, testDevice } from '../helpers/gpu.ts';
import { expectAllClose } from '../helpers/close.ts';

async function gpuBackend(name: string, opts: { kernels?: 'tiled' | 'simple'; hostCache?: boolean } = {}) {
  const device = await testDevice();
  const limits = { maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize, maxBufferSize: device.limits.maxBufferSize };
  const acquired = { device, adapter: 'test adapter', software: true, features: [], limits };
  const model = MODELS[name]();
  return { model, backend: await GpuBackend.create(acquired, model, undefined, opts) };
}

describe.skipIf(skipGpu).each(['stories260K (llama2.c)', 'kjv-gpt2-8L (safetensors)'])('GPU decode host path: %s', (name) => {
  it('step without logits = CPU greedy id; no bind group created and one uniform write per later step', async () => {
    const { model, backend } = await gpuBackend(name);
    const cpu = new CpuBackend(model);
    const prompt = model.tokenizer.encode(name.startsWith('stories') ? 'Once upon a time' : 'In the beginning');
    const gs = backend.session(prompt.length + 12);
    const cs = cpu.session(prompt.length + 12);
    let g = await gs.step!(prompt, { wantLogits: false });
    let c = await cs.append(prompt, { logits: 'last' });
    const stats = backend.ctx.stats;
    let created = -1;
    let writes = -1;
    for (let i = 0; i < 10; i++) {
      expect(g.logits).toBeNull();
      expect(g.id).toBe(greedyId(c.logits));
      if (i === 2) {
        created = stats.bindGroupsCreated;
        writes = stats.uniformWrites;
      }
      const next = g.id;
      g = await gs.step!([next], { wantLogits: false });
      c = await cs.append([next], { logits: 'last' });
    }
    // the 8 steps from i = 2 on: every bind group came from the cache, the uniforms were one writeBuffer per step.
    expect(stats.bindGroupsCreated - created).toBe(0);
    expect(stats.uniformWrites - writes).toBe(8);
    gs.dispose();
    backend.dispose();
  });

  it('step with logits and the legacy host path give the CPU logits', async () => {
    const { model, backend } = await gpuBackend(name);
    const { backend: legacy } = await gpuBackend(name, { hostCache: false });
    const cpu = new CpuBackend(model);
    const ids = model.tokenizer.encode(name.startsWith('stories') ? 'Once upon a time' : 'And God said');
    const want = await cpu.forward(ids, { logits: 'last' });
    for (const b of [backend, legacy]) {
      const s = b.session(ids.length);
      const r = await s.step!(ids);
      expectAllClose(r.logits!, want.logits, { atol: 2e-4, rtol: 1e-4 }, 'last logits');
      expect(r.id).toBe(greedyId(want.logits));
      s.dispose();
    }
    backend.dispose();
    legacy.dispose();
  });

  it('attn_ctx / ffn_act taps equal the CPU forward within 1e-5 (with skipped and scaled sublayers)', async () => {
    const { model, backend } = await gpuBackend(name);
    const cpu = new CpuBackend(model);
    const ids = model.tokenizer.encode(name.startsWith('stories') ? 'Once upon a time, there was' : 'And God said, Let there be light');
    const L = model.spec.nLayers;
    const taps: string[] = [];
    for (let l = 0; l < L; l++) taps.push(ctxTapName(l), actTapName(l));
    const interventions = [
      { kind: 'skip-attn' as const, layer: 1 },
      { kind: 'skip-mlp' as const, layer: 2 },
      { kind: 'scale' as const, layer: 0, sublayer: 'mlp' as const, factor: 0.5 },
    ];
    for (const iv of [[], interventions]) {
      const g = await backend.forward(ids, { taps, interventions: iv });
      const c = await cpu.forward(ids, { taps, interventions: iv });
      for (const t of taps) {
        const width = t.endsWith('attn_ctx') ? model.spec.nHeads * model.spec.headDim : model.spec.dFF;
        expect(g.taps[t].length).toBe(ids.length * width);
        expectAllClose(g.taps[t], c.taps[t], { atol: 1e-5, rtol: 1e-5 }, `tap ${t}`);
      }
      if (iv.length) {
        expect(c.taps[ctxTapName(1)].every((v) => v === 0)).toBe(true);
        expect(c.taps[actTapName(2)].every((v) => v === 0)).toBe(true);
      }
    }
    backend.dispose();
  });

  it('forwardOnDevice: the tap buffers hold what forward() reads back', async () => {
    const { model, backend } = await gpuBackend(name);
    const ids = model.tokenizer.encode('And it was so');
    const taps = [tapName(0, 'in'), tapName(1, 'out'), tapName(0, 'attn_out'), ctxTapName(1), actTapName(0), 'final_norm'];
    const host = await backend.forward(ids, { taps });
    const dev = await backend.forwardOnDevice(ids, { taps, readLogits: true });
    expect(dev.T).toBe(ids.length);
    expect(Object.keys(dev.taps).sort()).toEqual(taps.slice().sort());
    for (const t of taps) expect(Array.from(await backend.ctx.readF32(dev.taps[t], host.taps[t].length))).toEqual(Array.from(host.taps[t]));
    expect(Array.from(dev.logits!)).toEqual(Array.from(host.logits));
    dev.release();
    dev.release();
    backend.dispose();
  });
});

describe.skipIf(skipGpu)('GPU decode host path with the tiled (hardware) kernels', () => {
  it('stories260K: step without logits (argmax main entry) = CPU greedy ids; attn_ctx / ffn_act taps = CPU', async () => {
    const { model, backend } = await gpuBackend('stories260K (llama2.c)', { kernels: 'tiled' });
    const cpu = new CpuBackend(model);
    const prompt = model.tokenizer.encode('Once upon a time');
    const gs = backend.session(prompt.length + 4);
    const cs = cpu.session(prompt.length + 4);
    let g = await gs.step!(prompt, { wantLogits: false });
    let c = await cs.append(prompt, { logits: 'last' });
    for (let i = 0; i < 4; i++) {
      expect(g.id).toBe(greedyId(c.logits));
      if (i === 3) break;
      const next = g.id;
      g = await gs.step!([next], { wantLogits: false });
      c = await cs.append([next], { logits: 'last' });
    }
    gs.dispose();
    const taps = [ctxTapName(0), actTapName(4)];
    const gt = await backend.forward(prompt, { taps });
    const ct = await cpu.forward(prompt, { taps });
    for (const t of taps) expectAllClose(gt.taps[t], ct.taps[t], { atol: 1e-5, rtol: 1e-5 }, `tap ${t}`);
    backend.dispose();
  });
});
