// Opening ONNX causal LMs (src/onnx/graph.ts, import.ts, session.ts): test graphs of stories260K's real
// weights written in the fixture (two styles, independent of the exporter and of the importer), run with
// onnxruntime-web's wasm backend, against LayerLab's native CPU engine on the llama2.c checkpoint: graph
// analysis finds the blocks and the right weights, logits and every residual-stream tap agree, the
// residual cosines and the other activation/weight metrics agree, interventions and allocations applied
// by rewriting initializers agree with the native engine's, and bad inputs get clear errors.
import { describe, expect, it, beforeAll } from 'vitest';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import type { LoadedModel } from '../../src/core/formats/types.ts';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { allBlockTaps, tapName } from '../../src/core/model/taps.ts';
import { tensorToF32 } from '../../src/core/model/weights.ts';
import { computeMetric } from '../../src/core/metrics/index.ts';
import { analyze } from '../../src/core/analysis/analyze.ts';
import { applyAllocation } from '../../src/core/allocation/apply-weights.ts';
import { uniform } from '../../src/core/allocation/strategies.ts';
import { compareModels } from '../../src/core/allocation/compare.ts';
import { decodeOnnxModel, encodeOnnxModel, OnnxDataType, OnnxFormatError, tensorValueInfo, type OnnxModel } from '../../src/onnx/proto.ts';
import { analyzeGraph } from '../../src/onnx/graph.ts';
import { checkOnnxMetrics, loadOnnx, type OnnxLoaded } from '../../src/onnx/import.ts';
import { OnnxBackend } from '../../src/onnx/session.ts';
import { readModelBytes } from '../helpers/models.ts';
import { expectAllClose } from '../helpers/close.ts';
import { roundF16 } from '../../src/core/quant/half.ts';
import { generate } from '../../src/core/eval/generate.ts';
import { bagOfWordsOnnx, f16Weights, gpt2Onnx, llamaOnnx, mlpOnnx, permuteHalf } from './onnx-import-fixtures.ts';

const native: LoadedModel = loadModelFromFiles([
  { name: 'stories260K.bin', bytes: readModelBytes('stories260K/stories260K.bin') },
  { name: 'tok512.bin', bytes: readModelBytes('stories260K/tok512.bin') },
]);
const cpu = new CpuBackend(native);
const ids = native.tokenizer.encode('Once upon a time, there was a little girl named Lily. She loved', { addBos: true });
const L = native.spec.nLayers;
const TOL = { atol: 1e-4, rtol: 1e-4 };

/** Bit-equal arrays (the importer only reorders stored float32 values). */
const same = (got: Float32Array, want: Float32Array, what: string) => expectAllClose(got, want, { atol: 0, rtol: 0 }, what);

const open = (m: OnnxModel, extra: { name: string; bytes: Uint8Array }[] = []): OnnxLoaded =>
  loadOnnx([{ name: 'model.onnx', bytes: encodeOnnxModel(m) }, ...extra], { tokenizer: native.tokenizer, contextLength: native.spec.contextLength });

for (const style of ['optimum', 'anonymous'] as const) {
  describe(`ONNX ${style}-style Llama graph of stories260K`, () => {
    let loaded: OnnxLoaded;
    let be: OnnxBackend;
    beforeAll(async () => {
      loaded = open(llamaOnnx(native, { style, past: style === 'optimum' }));
      be = await OnnxBackend.create(loaded);
    });

    it('graph analysis finds 5 attention + MLP blocks, the norms, the unembedding, and no ambiguity', () => {
      const a = loaded.analysis;
      expect(a.blocks.length).toBe(L);
      expect(a.ambiguities).toEqual([]);
      expect(a.confidence).toBe('high');
      expect(a.heads).toEqual({ nHeads: 8, nKvHeads: 4, headDim: 8, fromGraph: true });
      expect(a.finalNorm.kind).toBe('rms');
      expect(a.finalNorm.form).toBe(style === 'optimum' ? 'decomposed-rms' : 'SimplifiedLayerNormalization');
      expect(a.finalNorm.eps).toBeCloseTo(1e-5, 10);
      expect(a.unembedding?.tied).toBe(true); // the optimum style stores an equal copy: tied by value
      expect(a.inputs.map((i) => i.role).filter((r) => r === 'past').length).toBe(style === 'optimum' ? 2 * L : 0);
      for (const b of a.blocks) {
        expect(Object.keys(b.attn.inProj).sort()).toEqual(['k', 'q', 'v']);
        expect(Object.keys(b.mlp.inProj).sort()).toEqual(['gate', 'up']);
        expect(b.attn.nameLayer).toBe(style === 'optimum' ? b.layer : null);
      }
      if (style === 'anonymous') expect(a.blocks[1].mlp.norm.form).toBe('SkipSimplifiedLayerNormalization');
      const s = loaded.model.spec;
      expect([s.nLayers, s.dModel, s.dFF, s.vocabSize, s.mlp, s.norm.kind]).toEqual([5, 64, 172, 512, 'silu-gate', 'rms']);
      // the RoPE cache gathered by position_ids gives the context length; the anonymous graph slices its tables (none found)
      expect(a.positionRows).toBe(style === 'optimum' ? 512 : null);
    });

    it('the weights attributed to each block are the checkpoint\'s (q/k in the half layout for the optimum style)', () => {
      const { nHeads: H, nKvHeads: Hkv, headDim: D, dModel: C } = native.spec;
      for (let l = 0; l < L; l++) {
        for (const n of ['attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down', 'attn_norm', 'ffn_norm']) {
          same(tensorToF32(loaded.model.tensors.get(`blk.${l}.${n}`)!), tensorToF32(native.tensors.get(`blk.${l}.${n}`)!), `blk.${l}.${n}`);
        }
        const q = tensorToF32(native.tensors.get(`blk.${l}.attn_q`)!);
        const k = tensorToF32(native.tensors.get(`blk.${l}.attn_k`)!);
        same(tensorToF32(loaded.model.tensors.get(`blk.${l}.attn_q`)!), style === 'optimum' ? permuteHalf(q, H, D, C) : q, 'q');
        same(tensorToF32(loaded.model.tensors.get(`blk.${l}.attn_k`)!), style === 'optimum' ? permuteHalf(k, Hkv, D, C) : k, 'k');
      }
      same(tensorToF32(loaded.model.tensors.get('output_norm')!), tensorToF32(native.tensors.get('output_norm')!), 'output_norm');
    });

    it('logits and every residual-stream tap equal the native engine\'s', async () => {
      const taps = [...allBlockTaps(L), 'final_norm'];
      const [r, want] = await Promise.all([be.forward(ids, { taps }), cpu.forward(ids, { taps })]);
      expectAllClose(r.logits, want.logits, TOL);
      for (const t of taps) expectAllClose(r.taps[t], want.taps[t], TOL, t);
    });

    it('residual cosines (cos metric) equal the native engine\'s within 1e-4', async () => {
      const taps = allBlockTaps(L, ['in', 'mid', 'out']);
      const [r, want] = await Promise.all([be.forward(ids, { taps }), cpu.forward(ids, { taps })]);
      const ctx = (t: Record<string, Float32Array>) => ({ taps: t, T: ids.length, C: native.spec.dModel, nLayers: L });
      const got = computeMetric('cos', ctx(r.taps));
      const exp = computeMetric('cos', ctx(want.taps));
      expectAllClose(Float32Array.from(got.perBlock), Float32Array.from(exp.perBlock), { atol: 1e-4, rtol: 0 });
      expectAllClose(Float32Array.from(got.perToken!.flat()), Float32Array.from(exp.perToken!.flat()), { atol: 1e-4, rtol: 0 });
    });

    it('analyze (activation and weight metrics) on the ONNX model equals analyze on the checkpoint', async () => {
      const metrics = ['cos', 'lim', 'contrib', 'cka', 'lens', 'zd', 'weights'];
      const [got, want] = await Promise.all([analyze(be, loaded.model, { ids: [ids], metrics }), analyze(cpu, native, { ids: [ids], metrics })]);
      expect(got.scores.map((s) => s.metricId)).toEqual(want.scores.map((s) => s.metricId));
      for (let i = 0; i < got.scores.length; i++) {
        expectAllClose(Float32Array.from(got.scores[i].perBlock), Float32Array.from(want.scores[i].perBlock), { atol: 1e-4, rtol: 1e-4 });
      }
      expect(got.activationSource).toEqual({ fromTaps: 2 * L, recomputed: 0 });
      expect(got.calibration.baseNll).toBeCloseTo(want.calibration.baseNll, 4);
    });

    it('drops and scales (zeroed / scaled output projections) equal the native interventions', async () => {
      const interventions = [{ kind: 'skip-attn' as const, layer: 1 }, { kind: 'skip-mlp' as const, layer: 3 }, { kind: 'scale' as const, layer: 4, sublayer: 'attn' as const, factor: 0.5 }];
      const [r, want] = await Promise.all([be.forward(ids, { interventions, taps: [tapName(1, 'attn_out')] }), cpu.forward(ids, { interventions })]);
      expectAllClose(r.logits, want.logits, TOL);
      expect(r.taps[tapName(1, 'attn_out')].every((v) => v === 0)).toBe(true);
      const again = await be.forward(ids);
      expectAllClose(again.logits, (await cpu.forward(ids)).logits, TOL);
    });

    it('an allocation (uniform Q8_0 + a dropped block) applied by rewriting initializers equals the native model', async () => {
      const alloc = uniform(native.spec, 'Q8_0');
      alloc.layers!['2'] = { ...alloc.layers!['2'], drop: 'block' };
      const mo = applyAllocation(loaded.model, alloc);
      const mn = applyAllocation(native, alloc);
      const bo = await OnnxBackend.create(loaded, { modified: mo.model });
      const bn = new CpuBackend(mn.model);
      const [r, want] = await Promise.all([bo.forward(ids, { interventions: mo.interventions }), bn.forward(ids, { interventions: mn.interventions })]);
      expectAllClose(r.logits, want.logits, TOL);
      const co = await compareModels(be, bo, ids, { interventions: mo.interventions, decodeTokens: 0 });
      const cn = await compareModels(cpu, bn, ids, { interventions: mn.interventions, decodeTokens: 0 });
      expect(co.kl).toBeGreaterThan(0.01);
      expect(co.kl).toBeCloseTo(cn.kl, 4);
      expect(co.top1).toBe(cn.top1);
      expect(co.nllDiff).toBeCloseTo(cn.nllDiff, 4);
      bo.dispose();
    });

    it(`a decoding session (${style === 'optimum' ? 'KV cache from the present outputs' : 'prefix re-run'}) gives the full forward's rows and taps`, async () => {
      expect(!!be.kv).toBe(style === 'optimum');
      const s = be.session();
      const full = await cpu.forward(ids.slice(0, 8), { taps: [tapName(2, 'out')] });
      const V = native.spec.vocabSize;
      const C = native.spec.dModel;
      const first = await s.append(ids.slice(0, 5));
      expectAllClose(first.logits, full.logits.subarray(0, 5 * V), TOL, 'prefill');
      for (let i = 5; i < 8; i++) {
        const r = await s.append([ids[i]], { logits: 'last', taps: [tapName(2, 'out')] });
        expectAllClose(r.logits, full.logits.subarray(i * V, (i + 1) * V), TOL, `token ${i}`);
        expectAllClose(r.taps[tapName(2, 'out')], full.taps[tapName(2, 'out')].subarray(i * C, (i + 1) * C), TOL, `tap at ${i}`);
      }
      expect(s.position).toBe(8);
      s.dispose();
    });
  });
}

describe('ONNX Optimum-style GPT-2 graph of the KJV GPT-2 (written in the fixture)', () => {
  const gpt2 = loadModelFromFiles(['config.json', 'model.safetensors', 'tokenizer.json'].map((n) => ({ name: n, bytes: readModelBytes(`kjv-gpt2-8L/${n}`) })));
  const gcpu = new CpuBackend(gpt2);
  const gids = gpt2.tokenizer.encode('In the beginning God created the heaven and the earth.');
  let loaded: OnnxLoaded;
  let be: OnnxBackend;
  beforeAll(async () => {
    loaded = loadOnnx([{ name: 'model.onnx', bytes: encodeOnnxModel(gpt2Onnx(gpt2)) }], { tokenizer: gpt2.tokenizer });
    be = await OnnxBackend.create(loaded);
  });

  it('structure: 8 blocks named /h.N/, LayerNorm, fused QKV split into 4 heads, learned positions, biases, KV pairs', () => {
    const a = loaded.analysis;
    expect(a.blocks.length).toBe(8);
    expect(a.ambiguities).toEqual([]);
    expect(a.confidence).toBe('high');
    expect(a.blocks.map((b) => b.attn.nameLayer)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(a.heads).toEqual({ nHeads: 4, nKvHeads: 4, headDim: 32, fromGraph: true });
    expect(a.finalNorm.form).toBe('LayerNormalization');
    const s = loaded.model.spec;
    for (const k of ['nLayers', 'dModel', 'dFF', 'vocabSize', 'mlp', 'tiedEmbeddings', 'qkvBias', 'linearBias', 'fusedQkv', 'learnedPositions', 'contextLength'] as const) expect(s[k], k).toEqual(gpt2.spec[k]);
    for (const [name, t] of gpt2.tensors) same(tensorToF32(loaded.model.tensors.get(name)!), tensorToF32(t), name);
    expect(be.kv?.size).toBe(16);
  });

  it('logits, residual taps and residual cosines equal the native engine', async () => {
    const taps = allBlockTaps(8);
    const [r, want] = await Promise.all([be.forward(gids, { taps }), gcpu.forward(gids, { taps })]);
    expectAllClose(r.logits, want.logits, TOL, 'logits');
    for (const t of taps) expectAllClose(r.taps[t], want.taps[t], TOL, t);
    const ctx = (t: Record<string, Float32Array>) => ({ taps: t, T: gids.length, C: 128, nLayers: 8 });
    expectAllClose(Float32Array.from(computeMetric('cos', ctx(r.taps)).perBlock), Float32Array.from(computeMetric('cos', ctx(want.taps)).perBlock), { atol: 1e-4, rtol: 0 }, 'cos');
  });

  it('greedy generation through the KV cache equals the native engine', async () => {
    const [got, want] = await Promise.all([generate(be, gids.slice(0, 6), { maxTokens: 8, temperature: 0 }), generate(gcpu, gids.slice(0, 6), { maxTokens: 8, temperature: 0 })]);
    expect(got.generatedIds).toEqual(want.generatedIds);
  });
});

describe('ONNX graph variants', () => {
  it('a final SkipSimplifiedLayerNormalization without its sum output: the last residual is tapped by naming output 3', async () => {
    const loaded = open(llamaOnnx(native, { style: 'anonymous', fusedFinal: true }));
    expect(loaded.analysis.blocks.length).toBe(L);
    expect(loaded.analysis.finalNorm.form).toBe('SkipSimplifiedLayerNormalization');
    expect(loaded.analysis.sumOutputs.size).toBe(1);
    const be = await OnnxBackend.create(loaded);
    const taps = [tapName(L - 1, 'mid'), tapName(L - 1, 'mlp_out'), tapName(L - 1, 'out'), 'final_norm'];
    const [r, want] = await Promise.all([be.forward(ids, { taps }), cpu.forward(ids, { taps })]);
    expectAllClose(r.logits, want.logits, TOL, 'logits');
    for (const t of taps) expectAllClose(r.taps[t], want.taps[t], TOL, t);
    be.dispose();
  });

  it('float16 weights (Cast to float32 before use): read as f32, equal the checkpoint with f16-rounded matrices; drops write float16 back', async () => {
    const loaded = open(f16Weights(llamaOnnx(native, { style: 'anonymous' })));
    expect(loaded.analysis.ambiguities).toEqual([]);
    const tensors = new Map(native.tensors);
    for (const [n, t] of native.tensors) {
      if (t.shape.length !== 2) continue;
      const v = Float32Array.from(tensorToF32(t), roundF16);
      tensors.set(n, { ...t, data: new Uint8Array(v.buffer) });
    }
    const rounded = new CpuBackend({ ...native, tensors });
    same(tensorToF32(loaded.model.tensors.get('blk.2.ffn_up')!), tensorToF32(tensors.get('blk.2.ffn_up')!), 'blk.2.ffn_up');
    const be = await OnnxBackend.create(loaded);
    const interventions = [{ kind: 'skip-mlp' as const, layer: 2 }];
    for (const opts of [{}, { interventions }]) expectAllClose((await be.forward(ids, opts)).logits, (await rounded.forward(ids, opts)).logits, TOL, 'logits');
    be.dispose();
  });

  it('extra inputs of newer exports (cache_position, num_logits_to_keep) are fed; an unknown input is named', async () => {
    const m = llamaOnnx(native, { style: 'optimum' });
    m.graph!.input!.push(tensorValueInfo('cache_position', OnnxDataType.INT64, ['sequence_length']), tensorValueInfo('num_logits_to_keep', OnnxDataType.INT64, []));
    const loaded = open(m);
    expect(loaded.analysis.inputs.map((i) => i.role)).toEqual(['input_ids', 'attention_mask', 'position_ids', 'cache_position', 'logits_to_keep']);
    const be = await OnnxBackend.create(loaded);
    expectAllClose((await be.forward(ids)).logits, (await cpu.forward(ids)).logits, TOL, 'logits');
    be.dispose();
    m.graph!.input!.push(tensorValueInfo('speaker_id', OnnxDataType.INT64, [1]));
    expect(() => open(m)).toThrow(/graph input "speaker_id"/);
  });

  it('node names that disagree with the structure are reported and lower the confidence', () => {
    const m = llamaOnnx(native, { style: 'optimum' });
    const add = m.graph!.node!.find((n) => n.name === '/model/layers.1/Add')!;
    add.name = '/model/layers.3/Add';
    const a = analyzeGraph(decodeOnnxModel(encodeOnnxModel(m)));
    expect(a.blocks.length).toBe(L);
    expect(a.confidence).toBe('low');
    expect(a.ambiguities.join('\n')).toMatch(/block 1: its attn residual add is named for layer 3/);
  });
});

describe('ONNX errors', () => {
  it('a graph that is not a decoder LM: "cannot find the residual stream" with a hint', () => {
    for (const m of [mlpOnnx(), bagOfWordsOnnx()]) {
      let err: unknown;
      try {
        analyzeGraph(decodeOnnxModel(encodeOnnxModel(m)));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(OnnxFormatError);
      expect((err as Error).message).toMatch(/cannot find the residual stream/);
      expect((err as OnnxFormatError).hint).toMatch(/decoder-only/);
    }
  });

  it('garbage and truncated files get a clear OnnxFormatError', () => {
    const garbage = Uint8Array.from({ length: 300 }, (_, i) => (i * 7919) % 251);
    expect(() => loadOnnx([{ name: 'model.onnx', bytes: garbage }], { tokenizer: native.tokenizer })).toThrow(/not a readable ONNX model|holds no graph nodes/);
    const full = encodeOnnxModel(llamaOnnx(native, { style: 'anonymous' }));
    let err: unknown;
    try {
      loadOnnx([{ name: 'model.onnx', bytes: full.slice(0, Math.floor(full.length / 2)) }], { tokenizer: native.tokenizer });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OnnxFormatError);
    expect((err as OnnxFormatError).hint).toMatch(/truncated/);
  });

  it('external data: a missing file is named; with the file the model runs', async () => {
    const m = llamaOnnx(native, { style: 'anonymous' });
    const emb = m.graph!.initializer!.find((t) => (t.dims ?? []).join() === '512,64')!;
    const data = emb.rawData!;
    const pad = new Uint8Array(16 + data.length);
    pad.set(data, 16);
    delete emb.rawData;
    emb.dataLocation = 1;
    emb.externalData = [{ key: 'location', value: 'model.onnx_data' }, { key: 'offset', value: '16' }, { key: 'length', value: String(data.length) }];
    expect(() => open(m)).toThrow(/model\.onnx_data/);
    const loaded = open(m, [{ name: 'model.onnx_data', bytes: pad }]);
    const be = await OnnxBackend.create(loaded);
    expectAllClose((await be.forward(ids)).logits, (await cpu.forward(ids)).logits, TOL);
    be.dispose();
  });

  it('analyze on ONNX refuses the metrics that need a native file, by name', () => {
    expect(() => checkOnnxMetrics(['cos', 'weights', 'lens'])).not.toThrow();
    expect(() => checkOnnxMetrics(['cos', 'fisher'])).toThrow(/fisher is not available for ONNX models: it needs LayerLab's own forward pass, so open the model as a GGUF or safetensors file/);
  });

  it('an unembedding without a constant weight: listed as ambiguous, lens refused by name and left out of all', () => {
    const m = llamaOnnx(native, { style: 'anonymous' });
    const nodes = m.graph!.node!;
    const mm = nodes[nodes.length - 1];
    mm.input = [mm.input![0], 'scaled_unembedding'];
    nodes.splice(nodes.length - 1, 0, { opType: 'Mul', input: [nodes[nodes.length - 2].output![0], 'input_scale'], output: ['scaled_unembedding'] });
    m.graph!.input!.push(tensorValueInfo('input_scale', OnnxDataType.FLOAT, [1]));
    const loaded = open(m);
    expect(loaded.analysis.ambiguities.join('\n')).toMatch(/unembedding matmul has no constant weight/);
    expect(loaded.model.meta['onnx.unembedding']).toBe('none');
    expect(() => checkOnnxMetrics(['cos', 'lens'], loaded.model)).toThrow(/lens is not available for this ONNX model/);
    expect(checkOnnxMetrics(['all'], loaded.model)).not.toContain('lens');
  });

  it('no tokenizer: a clear error', () => {
    expect(() => loadOnnx([{ name: 'model.onnx', bytes: encodeOnnxModel(llamaOnnx(native, { style: 'anonymous' })) }])).toThrow(/needs its tokenizer/);
  });
});
