// Opening graphs written by another program: LayerLab's ONNX exporter (src/onnx/export.ts, written
// separately from the importer) for stories260K (Llama, with KV-cache inputs and residual outputs) and
// for the KJV GPT-2 (LayerNormalization, fused QKV with biases, GELU, learned positions sliced from a
// table, tied unembedding). The importer must find the blocks from the graph's structure, attribute the
// weights to the same canonical tensors the native loader gives, and reproduce the native engine's logits,
// residual taps and activation/weight metrics; the CLI must pick up tokenizer.json beside the file.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import type { LoadedModel } from '../../src/core/formats/types.ts';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { allBlockTaps } from '../../src/core/model/taps.ts';
import { tensorToF32 } from '../../src/core/model/weights.ts';
import { analyze } from '../../src/core/analysis/analyze.ts';
import { generate } from '../../src/core/eval/generate.ts';
import { exportOnnx } from '../../src/onnx/export.ts';
import { encodeOnnxModel } from '../../src/onnx/proto.ts';
import { loadOnnx, type OnnxLoaded } from '../../src/onnx/import.ts';
import { OnnxBackend } from '../../src/onnx/session.ts';
import { modelPath, readModelBytes } from '../helpers/models.ts';
import { decomposeLayerNorms, stripNames } from './onnx-import-fixtures.ts';
import { runCliJson, type Json } from '../helpers/cli.ts';
import { expectAllClose } from '../helpers/close.ts';

const TOL = { atol: 1e-4, rtol: 1e-4 };
const stories = (): LoadedModel =>
  loadModelFromFiles([
    { name: 'stories260K.bin', bytes: readModelBytes('stories260K/stories260K.bin') },
    { name: 'tok512.bin', bytes: readModelBytes('stories260K/tok512.bin') },
  ]);
const gpt2 = (): LoadedModel => loadModelFromFiles(['config.json', 'model.safetensors', 'tokenizer.json'].map((n) => ({ name: n, bytes: readModelBytes(`kjv-gpt2-8L/${n}`) })));

const cases = [
  { label: 'stories260K (Llama) with KV-cache inputs and residual outputs', load: stories, opts: { kvCache: true, residualOutputs: true }, text: 'Once upon a time, there was a little girl', past: 10, heads: [8, 4, 8] },
  { label: 'KJV GPT-2 (8 layers) with KV-cache inputs', load: gpt2, opts: { kvCache: true }, text: 'In the beginning God created the heaven and the earth.', past: 16, heads: [4, 4, 32] },
];

for (const c of cases) {
  describe(`exporter graph of ${c.label}`, () => {
    let native: LoadedModel;
    let loaded: OnnxLoaded;
    let be: OnnxBackend;
    let cpu: CpuBackend;
    let ids: number[];
    beforeAll(async () => {
      native = c.load();
      cpu = new CpuBackend(native);
      ids = native.tokenizer.encode(c.text);
      loaded = loadOnnx([{ name: 'model.onnx', bytes: exportOnnx(native, c.opts).bytes }], { tokenizer: native.tokenizer, contextLength: native.spec.contextLength });
      be = await OnnxBackend.create(loaded);
    });

    it('structure: blocks, heads, past inputs, norms and the canonical weights', () => {
      const a = loaded.analysis;
      expect(a.blocks.length).toBe(native.spec.nLayers);
      expect(a.ambiguities).toEqual([]);
      expect([a.heads.nHeads, a.heads.nKvHeads, a.heads.headDim]).toEqual(c.heads);
      expect(a.inputs.filter((i) => i.role === 'past').length).toBe(c.past);
      const s = loaded.model.spec;
      for (const k of ['nLayers', 'dModel', 'dFF', 'vocabSize', 'mlp', 'tiedEmbeddings', 'qkvBias', 'linearBias', 'fusedQkv', 'learnedPositions'] as const) expect(s[k], k).toEqual(native.spec[k]);
      expect(s.norm.kind).toBe(native.spec.norm.kind);
      // Without the contextLength option the importer reads the exporter's layerlab.context_length.
      const bare = loadOnnx([{ name: 'model.onnx', bytes: exportOnnx(native, c.opts).bytes }], { tokenizer: native.tokenizer });
      expect(bare.model.spec.contextLength).toBe(native.spec.contextLength);
      expect([...loaded.model.tensors.keys()].sort()).toEqual([...native.tensors.keys()].sort());
      for (const [name, t] of native.tensors) expectAllClose(tensorToF32(loaded.model.tensors.get(name)!), tensorToF32(t), { atol: 0, rtol: 0 }, name);
    });

    it('logits and residual taps equal the native engine', async () => {
      const taps = [...allBlockTaps(native.spec.nLayers), 'final_norm'];
      const [r, want] = await Promise.all([be.forward(ids, { taps }), cpu.forward(ids, { taps })]);
      expectAllClose(r.logits, want.logits, TOL, 'logits');
      for (const t of taps) expectAllClose(r.taps[t], want.taps[t], TOL, t);
    });

    it('generation through the KV cache (past inputs fed from the present outputs) equals the native engine', async () => {
      expect(be.kv?.size).toBe(c.past);
      const [got, want] = await Promise.all([generate(be, ids, { maxTokens: 6, temperature: 0 }), generate(cpu, ids, { maxTokens: 6, temperature: 0 })]);
      expect(got.generatedIds).toEqual(want.generatedIds);
    });

    it('activation and weight metrics equal the native engine (lens through the identified final norm and unembedding)', async () => {
      const metrics = ['cos', 'contrib', 'cka', 'lens', 'weights'];
      const [got, want] = await Promise.all([analyze(be, loaded.model, { ids: [ids], metrics }), analyze(cpu, native, { ids: [ids], metrics })]);
      expect(got.scores.map((s) => s.metricId)).toEqual(want.scores.map((s) => s.metricId));
      for (let i = 0; i < got.scores.length; i++) expectAllClose(Float32Array.from(got.scores[i].perBlock), Float32Array.from(want.scores[i].perBlock), TOL, got.scores[i].metricId);
    });
  });
}

describe('exporter GPT-2 graph rewritten: decomposed LayerNorms, no node names', () => {
  it('blocks are found by structure and the logits equal the native engine', async () => {
    const native = gpt2();
    const m = stripNames(decomposeLayerNorms(exportOnnx(native).model));
    const loaded = loadOnnx([{ name: 'model.onnx', bytes: encodeOnnxModel(m) }], { tokenizer: native.tokenizer });
    const a = loaded.analysis;
    expect(a.blocks.length).toBe(8);
    expect(a.ambiguities).toEqual([]);
    expect(a.finalNorm.form).toBe('decomposed-layer');
    expect(a.blocks.every((b) => b.attn.norm.form === 'decomposed-layer' && b.attn.norm.bias && b.mlp.norm.weight)).toBe(true);
    for (const n of ['blk.3.attn_norm', 'blk.3.attn_norm.bias', 'output_norm.bias']) expectAllClose(tensorToF32(loaded.model.tensors.get(n)!), tensorToF32(native.tensors.get(n)!), { atol: 0, rtol: 0 }, n);
    const ids = native.tokenizer.encode('For God so loved the world');
    const be = await OnnxBackend.create(loaded);
    const taps = allBlockTaps(8, ['in', 'out']);
    const [r, want] = await Promise.all([be.forward(ids, { taps }), new CpuBackend(native).forward(ids, { taps })]);
    expectAllClose(r.logits, want.logits, TOL, 'logits');
    for (const t of taps) expectAllClose(r.taps[t], want.taps[t], TOL, t);
    be.dispose();
  });
});

describe('CLI: tokenizer.json beside the .onnx file', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'layerlab-onnx-gpt2-'));
    writeFileSync(join(dir, 'model.onnx'), exportOnnx(gpt2()).bytes);
    copyFileSync(modelPath('kjv-gpt2-8L/tokenizer.json'), join(dir, 'tokenizer.json'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('logits from the ONNX file equal the safetensors model on the native engine', async () => {
    const text = 'And God said, Let there be light';
    const got: Json = await runCliJson(['logits', '--model', join(dir, 'model.onnx'), '--text', text]);
    const want: Json = await runCliJson(['logits', '--model', modelPath('kjv-gpt2-8L'), '--backend', 'cpu', '--text', text]);
    expect(got.ids).toEqual(want.ids);
    expectAllClose(Float32Array.from(got.logits.flat()), Float32Array.from(want.logits.flat()), TOL);
  });
});
