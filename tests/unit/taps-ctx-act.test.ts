// The CPU forward's taps blk.l.attn_ctx / blk.l.ffn_act (core/model/forward.ts) against an independent
// recomputation from the block taps (core/analysis/activations.ts attentionContext / mlpActivation: the
// norm, projections, RoPE, attention and activation redone from blk.l.in / blk.l.mid), on stories260K
// (Llama: GQA, RoPE, SwiGLU) and kjv-gpt2-8L (GPT-2: fused QKV, LayerNorm, GELU). Tolerance atol 1e-5,
// rtol 1e-5 (both float64-accumulated, f32 stored). Then the Wanda/OWL input norms: an accumulator fed the
// forward's taps reads them (recomputed: 0) and gives the same norms as one that recomputes them.
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { actTapName, ctxTapName, tapName } from '../../src/core/model/taps.ts';
import { attentionContext, f32Lookup, InputNormAccumulator, mlpActivation } from '../../src/core/analysis/activations.ts';
import { MODELS } from '../helpers/parity.ts';
import { expectAllClose } from '../helpers/close.ts';

describe.each(['stories260K (llama2.c)', 'kjv-gpt2-8L (safetensors)'])('attn_ctx / ffn_act taps: %s', (name) => {
  it('equal the recomputation from blk.l.in / blk.l.mid; input norms read them', async () => {
    const model = MODELS[name]();
    const cpu = new CpuBackend(model);
    const ids = model.tokenizer.encode(name.startsWith('stories') ? 'Once upon a time, there was a cat' : 'And God said, Let there be light');
    const T = ids.length;
    const L = model.spec.nLayers;
    const taps: string[] = [];
    for (let l = 0; l < L; l++) taps.push(tapName(l, 'in'), tapName(l, 'mid'), ctxTapName(l), actTapName(l));
    const r = await cpu.forward(ids, { taps });
    const w = f32Lookup(model);
    for (let l = 0; l < L; l++) {
      expect(r.taps[ctxTapName(l)].length).toBe(T * model.spec.nHeads * model.spec.headDim);
      expect(r.taps[actTapName(l)].length).toBe(T * model.spec.dFF);
      expectAllClose(r.taps[ctxTapName(l)], attentionContext(model.spec, w, l, r.taps[tapName(l, 'in')], T), { atol: 1e-5, rtol: 1e-5 }, `attn_ctx ${l}`);
      expectAllClose(r.taps[actTapName(l)], mlpActivation(model.spec, w, l, r.taps[tapName(l, 'mid')], T), { atol: 1e-5, rtol: 1e-5 }, `ffn_act ${l}`);
    }
    const fromTaps = new InputNormAccumulator(model, w);
    fromTaps.addText(r.taps, T);
    expect(fromTaps.source).toEqual({ fromTaps: 2 * L, recomputed: 0 });
    const blockOnly: Record<string, Float32Array> = {};
    for (let l = 0; l < L; l++) for (const p of ['in', 'mid'] as const) blockOnly[tapName(l, p)] = r.taps[tapName(l, p)];
    const recomputed = new InputNormAccumulator(model, w);
    recomputed.addText(blockOnly, T);
    expect(recomputed.source).toEqual({ fromTaps: 0, recomputed: 2 * L });
    for (let l = 0; l < L; l++) {
      for (const t of [`blk.${l}.attn_output`, `blk.${l}.ffn_down`]) {
        expectAllClose(fromTaps.norms(t)!, recomputed.norms(t)!, { atol: 1e-5, rtol: 1e-5 }, `norms ${t}`);
      }
    }
  });
});
