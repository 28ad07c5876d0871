// ONNX export (src/onnx/export.ts) run by a second, independent engine: onnxruntime-web's wasm backend
// in Node (src/onnx/ort-run.ts). Oracles: the independent stories260K references (llama2.c run.c and
// llama.cpp agree) and kjv-gpt2-8L's PyTorch float64 logits; for models without references, LayerLab's
// CPU reference engine (core/model/forward.ts), a different implementation of the same math.
// - stories260K (llama2.c, adjacent RoPE, GQA) and its Hugging Face form (rotate-half RoPE): prompt
//   logits within 1e-4 of refs/stories260K/logits_prompt.json;
// - residual outputs: hidden states within 1e-4 of the engine's taps and the same cosine metric
//   (core/metrics/cos.ts) within 1e-6;
// - kjv-gpt2-8L (safetensors, GPT-2 path: fused QKV, biases, LayerNorm, GELU, learned positions):
//   logits within 1e-4 of PyTorch; llama-2-tiny-random (wild GGUF, F16, untied, 32k vocab) and a tiny
//   Qwen2 GGUF (QKV biases, NEOX RoPE), partial rotary, and every other GGUF in the models directory
//   (stories260K F32 / Q8_0 / Q4_0 / Q4_1 / Q5_0 / Q5_1 / mixed, kjv-gpt2-8L) within 1e-4 of the engine;
// - KV-cache form: single steps = the reference logits, greedy runs = the references' ids;
// - 4-bit (MatMulNBits): see the describe block for the tolerance argument;
// - malformed files fail with a clear error and a hint.
import { beforeAll, describe, expect, it } from 'vitest';
import { exportOnnx, q4_0ToNBits, quantizeNBits, tapsFromResidualOutputs, residualOutputName } from '../../src/onnx/export.ts';
import { openOrtDecoder, openOrtModel, OrtRunError, type OrtModel } from '../../src/onnx/ort-run.ts';
import { encodeOnnxModel, OnnxFormatError, tensorValueInfo, OnnxDataType } from '../../src/onnx/proto.ts';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { allBlockTaps } from '../../src/core/model/taps.ts';
import { compute as cosMetric } from '../../src/core/metrics/cos.ts';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import type { LoadedModel, WeightTensor } from '../../src/core/formats/types.ts';
import { tensorToF32 } from '../../src/core/model/weights.ts';
import { quantize } from '../../src/core/quant/quantize.ts';
import { GGMLType } from '../../src/core/quant/types.ts';
import { expectAllClose } from '../helpers/close.ts';
import { readModelBytes } from '../helpers/models.ts';
import { MODELS, kjvGreedy, kjvLogits, storiesGreedy, storiesLogits, type GreedyRef } from '../helpers/parity.ts';
import { loadHfStories, loadStoriesLlama2c } from './hf-llama-fixture.ts';
import { stubTokenizer, tinyQwen2 } from './formats-fixtures.ts';

const LOGITS_TOL = { atol: 1e-4, rtol: 0 };

async function ortLogits(model: LoadedModel, ids: number[], opts: Parameters<typeof exportOnnx>[1] = {}) {
  const ex = exportOnnx(model, opts);
  const ort = await openOrtModel(ex.bytes);
  try {
    return { ex, out: await ort.run(ids) };
  } finally {
    await ort.release();
  }
}

describe('export of stories260K (llama2.c) in onnxruntime-web wasm', () => {
  const ref = storiesLogits();
  let model: LoadedModel;
  let ort: OrtModel;
  let out: Record<string, { data: Float32Array; dims: number[] }>;
  beforeAll(async () => {
    model = loadStoriesLlama2c();
    const ex = exportOnnx(model, { residualOutputs: true });
    expect(ex.outputs).toEqual(['logits', 'hidden.-1', ...Array.from({ length: 5 }, (_, l) => [`hidden.${l}.mid`, `hidden.${l}`]).flat()]);
    ort = await openOrtModel(ex.bytes);
    out = await ort.run(ref.ids);
    return () => ort.release();
  }, 60_000);

  it('has opset 17, the input and output signature, standard ops only', () => {
    const ex = exportOnnx(model);
    expect(ex.model.opsetImport).toEqual([{ domain: '', version: 17 }]);
    expect(ex.model.graph!.input!.map((i) => i.name)).toEqual(['input_ids']);
    expect(ex.outputs).toEqual(['logits']);
    expect(ex.model.graph!.node!.every((n) => !n.domain)).toBe(true);
    expect(ort.inputNames).toEqual(['input_ids']);
  });

  it('prompt logits are within 1e-4 of the llama2.c / llama.cpp reference', () => {
    expect(out.logits.dims).toEqual([1, ref.ids.length, 512]);
    expectAllClose(out.logits.data, ref.logits.flat(), LOGITS_TOL, 'ORT logits vs refs');
  });

  it('residual outputs equal the engine taps, and give the same residual-stream cosines', async () => {
    const cpu = new CpuBackend(model);
    const r = await cpu.forward(ref.ids, { taps: allBlockTaps(5) });
    const T = ref.ids.length;
    const C = model.spec.dModel;
    const hidden: Record<string, Float32Array> = {};
    for (const [k, v] of Object.entries(out)) {
      if (k === 'logits') continue;
      expect(v.dims).toEqual([1, T, C]);
      hidden[k] = v.data;
    }
    expectAllClose(hidden[residualOutputName(-1)], r.taps['blk.0.in'], { atol: 1e-6, rtol: 0 }, 'embedding');
    for (let l = 0; l < 5; l++) {
      expectAllClose(hidden[residualOutputName(l, 'mid')], r.taps[`blk.${l}.mid`], { atol: 1e-4, rtol: 1e-4 }, `blk.${l}.mid`);
      expectAllClose(hidden[residualOutputName(l)], r.taps[`blk.${l}.out`], { atol: 1e-4, rtol: 1e-4 }, `blk.${l}.out`);
    }
    const onnxCos = cosMetric({ taps: tapsFromResidualOutputs(hidden, 5), T, C, nLayers: 5 });
    const engineCos = cosMetric({ taps: r.taps, T, C, nLayers: 5 });
    expectAllClose(onnxCos.perBlock, engineCos.perBlock, { atol: 1e-6, rtol: 0 }, 'block influence');
    expectAllClose(onnxCos.perSublayer!.attn, engineCos.perSublayer!.attn, { atol: 1e-6, rtol: 0 }, 'attention 1-cos');
    expectAllClose(onnxCos.perSublayer!.mlp, engineCos.perSublayer!.mlp, { atol: 1e-6, rtol: 0 }, 'MLP 1-cos');
    expect(onnxCos.ranking).toEqual(engineCos.ranking);
  });

  it('logits do not depend on how many positions follow (causal mask) and work at T = 1', async () => {
    const one = await ort.run(ref.ids.slice(0, 1), ['logits']);
    expectAllClose(one.logits.data, ref.logits[0], LOGITS_TOL, 'T = 1');
    const three = await ort.run(ref.ids.slice(0, 3), ['logits']);
    expectAllClose(three.logits.data, ref.logits.slice(0, 3).flat(), LOGITS_TOL, 'T = 3');
  });
});

describe('other architectures and layouts against their references', () => {
  it('stories260K as a Hugging Face checkpoint (rotate-half RoPE, GQA): logits within 1e-4 of the refs', async () => {
    const ref = storiesLogits();
    const hf = loadHfStories(loadStoriesLlama2c());
    expect(hf.spec.rope.kind).toBe('half');
    const { out } = await ortLogits(hf, ref.ids);
    expectAllClose(out.logits.data, ref.logits.flat(), LOGITS_TOL, 'HF stories260K');
  }, 60_000);

  it('kjv-gpt2-8L (safetensors, GPT-2): logits within 1e-4 of PyTorch float64 and of the engine', async () => {
    const ref = kjvLogits();
    const m = MODELS['kjv-gpt2-8L (safetensors)']();
    expect(m.spec.arch).toBe('gpt2');
    const { out } = await ortLogits(m, ref.ids, { residualOutputs: true });
    expectAllClose(out.logits.data, ref.logits.flat(), LOGITS_TOL, 'kjv ORT vs PyTorch');
    const cpu = await new CpuBackend(m).forward(ref.ids, { taps: ['blk.7.out'] });
    expectAllClose(out.logits.data, cpu.logits, LOGITS_TOL, 'kjv ORT vs engine');
    expectAllClose(out['hidden.7'].data, cpu.taps['blk.7.out'], { atol: 1e-4, rtol: 1e-4 }, 'kjv last residual');
  }, 60_000);

  it('llama-2-tiny-random (wild GGUF: F16, untied output, 32k vocab): logits within 1e-4 of the engine', async () => {
    const m = loadModelFromFiles([{ name: 'llama-2-tiny-random.gguf', bytes: readModelBytes('wild/llama-2-tiny-random/llama-2-tiny-random.gguf') }]);
    expect(m.spec.tiedEmbeddings).toBe(false);
    const ids = m.tokenizer.encode('Hello world, this is a test.');
    const { out } = await ortLogits(m, ids);
    const cpu = await new CpuBackend(m).forward(ids);
    expectAllClose(out.logits.data, cpu.logits, LOGITS_TOL, 'tiny-random ORT vs engine');
  }, 60_000);

  it('partial rotary (rope.dim 4 of head dim 8, both layouts): logits within 1e-4 of the engine', async () => {
    const ref = storiesLogits();
    for (const kind of ['adjacent', 'half'] as const) {
      const base = loadStoriesLlama2c();
      const m: LoadedModel = { ...base, spec: { ...base.spec, rope: { ...base.spec.rope, dim: 4, kind } } };
      const { out } = await ortLogits(m, ref.ids);
      const cpu = await new CpuBackend(m).forward(ref.ids);
      expectAllClose(out.logits.data, cpu.logits, LOGITS_TOL, `partial rotary ${kind}`);
    }
  }, 60_000);

  // Every other model file in the models directory the engine supports: packed GGUF types are
  // dequantized into float32 initializers, so onnxruntime must match the engine on the same file.
  it.each([
    ['stories260K-gguf/stories260K.gguf', 512],
    ...['Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'MIXED-Q8_0-Q4_0'].map((q) => [`stories260K-gguf/quantized/stories260K-${q}.gguf`, 512] as [string, number]),
    ['kjv-gpt2-8L/kjv-gpt2-8L.gguf', undefined],
  ] as [string, number | undefined][])('%s: float32 export, logits within 1e-4 of the engine', async (rel, ctx) => {
    const m = loadModelFromFiles([{ name: rel.split('/').pop()!, bytes: readModelBytes(rel) }], { contextLength: ctx });
    const ids = m.tokenizer.encode(m.spec.arch === 'gpt2' ? 'In the beginning God created' : 'Once upon a time, there was');
    const { out } = await ortLogits(m, ids);
    const cpu = await new CpuBackend(m).forward(ids);
    expectAllClose(out.logits.data, cpu.logits, LOGITS_TOL, `${rel} ORT vs engine`);
  }, 60_000);

  it('tiny Qwen2 GGUF (QKV biases, NEOX RoPE, GQA 2/1): logits within 1e-4 of the engine', async () => {
    const m = loadModelFromFiles([{ name: 'tiny-qwen2.gguf', bytes: tinyQwen2() }], { tokenizer: stubTokenizer(10) });
    expect(m.spec.qkvBias).toBe(true);
    expect(m.spec.rope.kind).toBe('half');
    const ids = [3, 1, 4, 1, 5, 9, 2, 6];
    expect(m.spec.nKvHeads).toBeLessThan(m.spec.nHeads);
    const { out } = await ortLogits(m, ids);
    const cpu = await new CpuBackend(m).forward(ids);
    expectAllClose(out.logits.data, cpu.logits, { atol: 1e-4, rtol: 1e-5 }, 'qwen2 ORT vs engine');
  }, 60_000);
});

function argmax(v: Float32Array): number {
  let b = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[b]) b = i;
  return b;
}

// KV cache (past_key/value.<l> in, present_key/value.<l> out): a prefill then one token at a time must
// reproduce the full-sequence logits at every position and the references' greedy runs.
describe('KV-cache export (openOrtDecoder, wasm)', () => {
  async function greedy(model: LoadedModel, g: GreedyRef): Promise<number[]> {
    const d = await openOrtDecoder(exportOnnx(model, { kvCache: true }).bytes, model.spec);
    try {
      let last = await d.append(g.prompt_ids);
      const out: number[] = [];
      for (let i = 0; i < g.generated_ids.length; i++) {
        out.push(argmax(last));
        if (i + 1 < g.generated_ids.length) last = await d.append([out[i]]);
      }
      expect(d.position).toBe(g.prompt_ids.length + g.generated_ids.length - 1);
      return out;
    } finally {
      await d.release();
    }
  }

  it('stories260K: prefill 3 + 2 single steps = the reference logits (1e-4); 64 greedy tokens = the reference ids', async () => {
    const m = loadStoriesLlama2c();
    const ex = exportOnnx(m, { kvCache: true });
    expect(ex.model.graph!.input!.map((i) => i.name)).toEqual(['input_ids', ...[0, 1, 2, 3, 4].flatMap((l) => [`past_key.${l}`, `past_value.${l}`])]);
    const ref = storiesLogits();
    const d = await openOrtDecoder(ex.bytes, m.spec);
    expectAllClose(await d.append(ref.ids.slice(0, 3)), ref.logits[2], LOGITS_TOL, 'KV prefill');
    expectAllClose(await d.append([ref.ids[3]]), ref.logits[3], LOGITS_TOL, 'KV step 1');
    expectAllClose(await d.append([ref.ids[4]]), ref.logits[4], LOGITS_TOL, 'KV step 2');
    await d.release();
    const g = storiesGreedy();
    expect(await greedy(m, g)).toEqual(g.generated_ids);
  }, 120_000);

  it('kjv-gpt2-8L (learned positions offset by the cache): greedy ids = the PyTorch reference', async () => {
    const g = kjvGreedy();
    const m = MODELS['kjv-gpt2-8L (safetensors)']();
    expect(await greedy(m, { prompt_ids: g.prompt_ids, generated_ids: g.generated_ids.slice(0, 32) })).toEqual(g.generated_ids.slice(0, 32));
  }, 120_000);
});

// 4-bit: MatMulNBits (bits 4, block 32, default zero point 8) multiplies by (code - 8) * scale. A GGUF
// Q4_0 tensor is repacked with the same codes and its f16 d as the float scale, so onnxruntime and the
// engine (which dequantizes Q4_0 in core/quant/dequant.ts) multiply by bit-identical weights. MatMulNBits
// runs at accuracy_level 0 (float32 activations, float32 accumulation; level 4 would round activations
// to int8 like llama.cpp's CPU and would not meet this bound), so the only difference is summation order:
// the same 1e-4 as for float32 weights, not a quantization-error tolerance.
describe('4-bit export through com.microsoft MatMulNBits', () => {
  const ref = storiesLogits();

  it('stories260K Q4_0 GGUF (quantized by llama.cpp): codes repacked losslessly, logits within 1e-4 of the engine on the same file', async () => {
    const m = loadModelFromFiles([{ name: 'stories260K-Q4_0.gguf', bytes: readModelBytes('stories260K-gguf/quantized/stories260K-Q4_0.gguf') }], { contextLength: 512 });
    const { ex, out } = await ortLogits(m, ref.ids, { weights4bit: true });
    expect(ex.model.opsetImport).toContainEqual({ domain: 'com.microsoft', version: 1 });
    const byAs = (as: string) => ex.linears.filter((l) => l.as === as).map((l) => l.name);
    expect(byAs('q4-repacked')).toHaveLength(5 * 6); // q, k, v, o, gate, up per block
    expect(byAs('q4-quantized')).toEqual([]);
    expect(byAs('float32')).toEqual([0, 1, 2, 3, 4].map((l) => `blk.${l}.ffn_down`)); // F16 rows of 172: no 32-block fits
    expect(ex.model.graph!.node!.filter((n) => n.opType === 'MatMulNBits')).toHaveLength(30);
    const cpu = await new CpuBackend(m).forward(ref.ids);
    expectAllClose(out.logits.data, cpu.logits, LOGITS_TOL, 'Q4_0 ORT vs engine');
  }, 60_000);

  it('repacked codes decode to exactly the Q4_0 values (layout check against core/quant/dequant.ts)', () => {
    const m = loadModelFromFiles([{ name: 'q.gguf', bytes: readModelBytes('stories260K-gguf/quantized/stories260K-Q4_0.gguf') }], { contextLength: 512 });
    const t = m.tensors.get('blk.2.ffn_gate')!;
    const [N, K] = t.shape;
    const q = q4_0ToNBits(t.data, N, K);
    const want = tensorToF32(t);
    const got = new Float32Array(N * K);
    for (let n = 0; n < N; n++)
      for (let k = 0; k < K; k++) {
        const blk = n * (K / 32) + (k >> 5);
        const byte = q.b[blk * 16 + ((k & 31) >> 1)];
        got[n * K + k] = (((k & 1) === 0 ? byte & 15 : byte >> 4) - 8) * q.scales[blk];
      }
    expectAllClose(got, want, { atol: 0, rtol: 0 }, 'repacked values');
  });

  it('float32 stories260K: export quantization = core/quant Q4_0 (same codes), logits within 1e-4 of the engine on Q4_0 weights', async () => {
    const m = loadStoriesLlama2c();
    // The engine's model: the same linear weights quantized by the project's own Q4_0 quantizer.
    const tensors = new Map<string, WeightTensor>(m.tensors);
    for (const [name, t] of m.tensors) {
      if (!/^blk\.\d+\.(attn_[qkv]|attn_output|ffn_gate|ffn_up|ffn_down)$/.test(name) || t.shape[1] % 32 !== 0) continue;
      const f = tensorToF32(t);
      const bytes = quantize(GGMLType.Q4_0, f);
      const [N, K] = t.shape;
      const a = quantizeNBits(f, N, K);
      const b = q4_0ToNBits(bytes, N, K);
      expect(Buffer.from(a.b).equals(Buffer.from(b.b)), `${name} codes`).toBe(true);
      expect(Array.from(a.scales)).toEqual(Array.from(b.scales));
      tensors.set(name, { name, type: GGMLType.Q4_0, shape: [...t.shape], data: bytes });
    }
    const q4 = { ...m, tensors };
    const { ex, out } = await ortLogits(m, ref.ids, { weights4bit: true });
    expect(ex.linears.filter((l) => l.as === 'q4-quantized')).toHaveLength(30);
    const cpu = await new CpuBackend(q4).forward(ref.ids);
    expectAllClose(out.logits.data, cpu.logits, LOGITS_TOL, 'quantized-here ORT vs engine');
    // and 4 bits really changed the model (the test can tell the two apart)
    let maxd = 0;
    ref.logits.flat().forEach((v, i) => (maxd = Math.max(maxd, Math.abs(v - out.logits.data[i]))));
    expect(maxd).toBeGreaterThan(1e-2);
  }, 60_000);
});

describe('malformed ONNX files get a clear error', () => {
  it('bytes that are not ONNX: OnnxFormatError with a hint', async () => {
    const junk = new TextEncoder().encode('{"this": "is json, not an ONNX protobuf"}');
    const e = await openOrtModel(junk).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OnnxFormatError);
    expect((e as OnnxFormatError).hint).toMatch(/ONNX/);
  });

  it('a truncated export: OnnxFormatError', async () => {
    const ex = exportOnnx(loadStoriesLlama2c());
    const e = await openOrtModel(ex.bytes.subarray(0, 5000)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OnnxFormatError);
    expect(String((e as Error).message)).toMatch(/not a readable ONNX model|no graph nodes/);
  });

  it('a well-formed protobuf with an unknown op: OrtRunError naming the problem, with a hint', async () => {
    const bytes = encodeOnnxModel({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'bad',
        node: [{ opType: 'NoSuchOp', input: ['x'], output: ['y'] }],
        input: [tensorValueInfo('x', OnnxDataType.FLOAT, [1])],
        output: [tensorValueInfo('y', OnnxDataType.FLOAT, [1])],
      },
    });
    const e = await openOrtModel(bytes).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OrtRunError);
    expect((e as Error).message).toMatch(/NoSuchOp/);
    expect((e as OrtRunError).hint).toMatch(/unsupported op/);
  });

  it('token ids outside the vocabulary: OrtRunError at run time', async () => {
    const ort = await openOrtModel(exportOnnx(loadStoriesLlama2c()).bytes);
    const e = await ort.run([1, 9999]).catch((x: unknown) => x);
    await ort.release();
    expect(e).toBeInstanceOf(OrtRunError);
    expect((e as OrtRunError).hint).toMatch(/vocabulary/);
  });
});
