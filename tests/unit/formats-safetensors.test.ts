// Hugging Face safetensors + config.json: kjv-gpt2-8L against its GGUF twin (written by gguf-py, which
// transposed the Conv1D weights itself: an independent cross-check of our transpose), the raw Conv1D
// layout read directly, names with and without prefixes, and hand-built llama/qwen2/mistral checkpoints.
import { describe, expect, it } from 'vitest';
import { loadGguf } from '../../src/core/formats/gguf.ts';
import { loadSafetensors, parseSafetensors } from '../../src/core/formats/safetensors.ts';
import { GGMLType } from '../../src/core/quant/types.ts';
import { bf16ToF32, f16ToF32 } from '../../src/core/tensor.ts';
import { readModelBytes } from '../helpers/models.ts';
import { expectLoadError, f32View, ramp, sameBytes, splitSafetensors, stubTokenizer, writeSafetensors } from './formats-fixtures.ts';

const dec = new TextDecoder();
const st = readModelBytes('kjv-gpt2-8L/model.safetensors');
const config = JSON.parse(dec.decode(readModelBytes('kjv-gpt2-8L/config.json'))) as Record<string, unknown>;
const tokenizerJson = JSON.parse(dec.decode(readModelBytes('kjv-gpt2-8L/tokenizer.json'))) as object;
const tokenizerConfig = JSON.parse(dec.decode(readModelBytes('kjv-gpt2-8L/tokenizer_config.json'))) as object;

describe('kjv-gpt2-8L model.safetensors', () => {
  it('header: 100 F32 tensors with the shapes of SOURCE.md', () => {
    expect(st.length).toBe(6617576);
    const f = parseSafetensors(st);
    expect(f.entries.size).toBe(100);
    expect(f.metadata).toEqual({ format: 'pt' });
    expect(f.entries.get('transformer.h.0.attn.c_attn.weight')).toMatchObject({ dtype: 'F32', shape: [128, 384] });
    expect(f.entries.get('transformer.h.7.mlp.c_proj.weight')).toMatchObject({ dtype: 'F32', shape: [512, 128] });
    let n = 0;
    for (const e of f.entries.values()) n += (e.end - e.begin) / 4;
    expect(n).toBe(1651968);
  });

  it('spec from config.json; tied head', () => {
    const m = loadSafetensors({ config, weights: [st], tokenizerJson, tokenizerConfig });
    expect(m.spec).toEqual({
      arch: 'gpt2', name: 'gpt2', nLayers: 8, dModel: 128, nHeads: 4, nKvHeads: 4, headDim: 32, dFF: 512, vocabSize: 256, contextLength: 256,
      norm: { kind: 'layer', eps: 1e-5 }, rope: { kind: 'none', theta: 10000, dim: 0 }, learnedPositions: true, mlp: 'gelu',
      tiedEmbeddings: true, qkvBias: true, linearBias: true, fusedQkv: true, bosId: 10, eosId: 10, addBos: false,
    });
    expect(m.tensors.size).toBe(100);
    expect(m.tensors.has('output')).toBe(false);
    expect(m.tokenizer.encode('In the')).toEqual([73, 110, 32, 116, 104, 101]); // bytes
  });

  it('every canonical tensor is bit-identical to the GGUF twin (after our Conv1D transpose)', () => {
    const a = loadSafetensors({ config, weights: [st], tokenizerJson, tokenizerConfig });
    const g = loadGguf(readModelBytes('kjv-gpt2-8L/kjv-gpt2-8L.gguf'));
    expect(g.tensors.size).toBe(101);
    for (const [name, t] of g.tensors) {
      const mine = a.tensors.get(name === 'output' ? 'token_embd' : name);
      expect(mine, name).toBeDefined();
      expect(mine!.shape, name).toEqual(t.shape);
      expect(mine!.type, name).toBe(GGMLType.F32);
      expect(sameBytes(mine!.data, t.data), name).toBe(true);
    }
    expect({ ...g.spec, name: '', tiedEmbeddings: true }).toEqual({ ...a.spec, name: '', norm: { kind: 'layer', eps: Math.fround(1e-5) } });
  });

  it('transposes Conv1D [in, out] into [out, in]: element by element from the raw file', () => {
    const f = parseSafetensors(st);
    const e = f.entries.get('transformer.h.3.attn.c_attn.weight')!;
    const raw = f32View(st.subarray(e.begin, e.end)); // [128 in][384 out]
    const m = loadSafetensors({ config, weights: [st], tokenizerJson, tokenizerConfig });
    const t = m.tensors.get('blk.3.attn_qkv')!;
    expect(t.shape).toEqual([384, 128]);
    const w = f32View(t.data);
    for (const [o, i] of [[0, 0], [0, 1], [1, 0], [383, 127], [200, 77], [129, 5]]) {
      expect(w[o * 128 + i]).toBe(raw[i * 384 + o]);
    }
    // Biases and norms are untouched zero-copy views.
    expect(m.tensors.get('blk.3.attn_qkv.bias')!.data.buffer).toBe(st.buffer);
  });

  it('names without the "transformer." prefix, and a stored lm_head that is tied', () => {
    const { header, data } = splitSafetensors(st);
    const tensors = Object.entries(header)
      .sort((x, y) => x[1].data_offsets[0] - y[1].data_offsets[0])
      .map(([name, e]) => ({ name: name.replace(/^transformer\./, ''), dtype: e.dtype, shape: e.shape, data: data.subarray(e.data_offsets[0], e.data_offsets[1]) }));
    // Include the causal-mask buffers old GPT-2 checkpoints carry, and lm_head (tied: ignored).
    tensors.push({ name: 'h.0.attn.bias', dtype: 'F32', shape: [1, 1, 2, 2], data: new Uint8Array(16) });
    tensors.push({ name: 'h.0.attn.masked_bias', dtype: 'F32', shape: [], data: new Uint8Array(4) });
    const wte = tensors.find((t) => t.name === 'wte.weight')!;
    tensors.push({ ...wte, name: 'lm_head.weight' });
    const bare = writeSafetensors(tensors);
    const a = loadSafetensors({ config, weights: [st], tokenizerJson });
    const b = loadSafetensors({ config, weights: [bare], tokenizerJson });
    expect(b.tensors.size).toBe(100);
    for (const [name, t] of a.tensors) expect(sameBytes(b.tensors.get(name)!.data, t.data), name).toBe(true);
    // Untied: lm_head becomes `output`.
    const untied = loadSafetensors({ config: { ...config, tie_word_embeddings: false }, weights: [bare], tokenizerJson });
    expect(untied.spec.tiedEmbeddings).toBe(false);
    expect(untied.tensors.get('output')!.shape).toEqual([256, 128]);
    expectLoadError(() => loadSafetensors({ config: { ...config, tie_word_embeddings: false }, weights: [st], tokenizerJson }), 'missing-tensor', '"output"');
  });

  it('config errors: wrong width, wrong layer count, wrong vocab, unsupported variants', () => {
    const load = (c: Record<string, unknown>): unknown => loadSafetensors({ config: { ...config, ...c }, weights: [st], tokenizerJson });
    expectLoadError(() => load({ n_embd: 256 }), 'bad-shape', 'token_embd', '[256, 128]', '[256, 256]');
    expectLoadError(() => load({ n_inner: 1024 }), 'bad-shape', 'blk.0.ffn_up', '[512, 128]', '[1024, 128]');
    expectLoadError(() => load({ n_layer: 9 }), 'missing-tensor', 'blk.8.attn_norm');
    expectLoadError(() => load({ n_layer: 6 }), 'bad-shape', '8 blocks', '6 layers');
    expectLoadError(() => load({ vocab_size: 50257 }), 'bad-shape', 'vocab_size', '256 rows');
    expectLoadError(() => load({ n_positions: 1024 }), 'bad-shape', 'position_embd');
    expectLoadError(() => load({ n_head: 3 }), 'bad-metadata', 'n_head');
    expectLoadError(() => load({ activation_function: 'relu' }), 'unsupported-feature', 'relu');
    expectLoadError(() => load({ model_type: 'bert' }), 'unsupported-architecture', '"bert"', 'llama, mistral, qwen2, gpt2');
    expectLoadError(() => load({ model_type: undefined }), 'bad-metadata', 'model_type');
    expectLoadError(() => loadSafetensors({ config, weights: [st] }), 'incomplete-files', 'tokenizer.json');
  });

  it('an unsupported dtype is named with its tensor', () => {
    const { header, data } = splitSafetensors(st);
    const tensors = Object.entries(header).map(([name, e]) => ({
      name,
      dtype: name === 'transformer.h.2.ln_1.weight' ? 'I32' : e.dtype,
      shape: e.shape,
      data: data.subarray(e.data_offsets[0], e.data_offsets[1]),
    }));
    expectLoadError(() => loadSafetensors({ config, weights: [writeSafetensors(tensors)], tokenizerJson }), 'unsupported-type', 'transformer.h.2.ln_1.weight', 'I32');
  });
});

// ------------------------------------------------------------------------------------------------
// Hand-built Llama-family checkpoints.

const C = 8, H = 2, KV = 1, HD = 4, F = 12, V = 16;
function llamaTensors(o: { prefix?: string; bias?: boolean; lmHead?: boolean; dtype?: 'F32' | 'F16' | 'BF16' }) {
  const p = o.prefix ?? 'model.';
  const dtype = o.dtype ?? 'F32';
  let seed = 0;
  const mk = (name: string, shape: number[]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const f32 = ramp(n, (seed += 1000));
    let data = f32;
    if (dtype !== 'F32') {
      // Store the top 16 bits (BF16) or a simple F16 pattern: values only need to be recognisable.
      const src = new Uint16Array(f32.buffer);
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) out[i] = dtype === 'BF16' ? src[2 * i + 1] : (0x3c00 + ((seed + i) & 0x3ff)) & 0xffff;
      data = new Uint8Array(out.buffer);
    }
    return { name, dtype, shape, data };
  };
  const t = [mk(`${p}embed_tokens.weight`, [V, C]), mk(`${p}norm.weight`, [C])];
  const l = `${p}layers.0.`;
  t.push(mk(`${l}input_layernorm.weight`, [C]), mk(`${l}post_attention_layernorm.weight`, [C]));
  t.push(mk(`${l}self_attn.q_proj.weight`, [H * HD, C]), mk(`${l}self_attn.k_proj.weight`, [KV * HD, C]), mk(`${l}self_attn.v_proj.weight`, [KV * HD, C]));
  if (o.bias) t.push(mk(`${l}self_attn.q_proj.bias`, [H * HD]), mk(`${l}self_attn.k_proj.bias`, [KV * HD]), mk(`${l}self_attn.v_proj.bias`, [KV * HD]));
  t.push(mk(`${l}self_attn.o_proj.weight`, [C, H * HD]));
  t.push(mk(`${l}mlp.gate_proj.weight`, [F, C]), mk(`${l}mlp.up_proj.weight`, [F, C]), mk(`${l}mlp.down_proj.weight`, [C, F]));
  if (o.lmHead) t.push(mk('lm_head.weight', [V, C]));
  return t;
}
const llamaConfig = {
  model_type: 'llama', hidden_size: C, intermediate_size: F, num_hidden_layers: 1, num_attention_heads: H, num_key_value_heads: KV,
  rms_norm_eps: 1e-6, rope_theta: 500000, max_position_embeddings: 64, vocab_size: V, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: [2, 3],
};

describe('hand-built llama / qwen2 / mistral safetensors', () => {
  it('llama: canonical names, half RoPE (no permutation), untied lm_head, zero-copy', () => {
    const ts = llamaTensors({ lmHead: true });
    const bytes = writeSafetensors(ts);
    const m = loadSafetensors({ config: llamaConfig, weights: [bytes] }, { tokenizer: stubTokenizer(V) });
    expect(m.spec).toMatchObject({
      arch: 'llama', nLayers: 1, dModel: C, nHeads: H, nKvHeads: KV, headDim: HD, dFF: F, vocabSize: V, contextLength: 64,
      norm: { kind: 'rms', eps: 1e-6 }, rope: { kind: 'half', theta: 500000, dim: HD }, tiedEmbeddings: false, qkvBias: false,
      bosId: 1, eosId: 2, addBos: true,
    });
    const names: Record<string, string> = {
      'model.embed_tokens.weight': 'token_embd', 'model.norm.weight': 'output_norm', 'lm_head.weight': 'output',
      'model.layers.0.input_layernorm.weight': 'blk.0.attn_norm', 'model.layers.0.post_attention_layernorm.weight': 'blk.0.ffn_norm',
      'model.layers.0.self_attn.q_proj.weight': 'blk.0.attn_q', 'model.layers.0.self_attn.k_proj.weight': 'blk.0.attn_k',
      'model.layers.0.self_attn.v_proj.weight': 'blk.0.attn_v', 'model.layers.0.self_attn.o_proj.weight': 'blk.0.attn_output',
      'model.layers.0.mlp.gate_proj.weight': 'blk.0.ffn_gate', 'model.layers.0.mlp.up_proj.weight': 'blk.0.ffn_up',
      'model.layers.0.mlp.down_proj.weight': 'blk.0.ffn_down',
    };
    expect(m.tensors.size).toBe(Object.keys(names).length);
    for (const t of ts) {
      const c = m.tensors.get(names[t.name])!;
      expect(c, t.name).toBeDefined();
      expect(c.shape).toEqual(t.shape);
      expect(sameBytes(c.data, t.data), t.name).toBe(true);
      expect(c.data.buffer).toBe(bytes.buffer);
    }
  });

  it('qwen2: q/k/v biases; tied head; names without "model."; split over two shards', () => {
    const ts = llamaTensors({ prefix: '', bias: true });
    const shards = [writeSafetensors(ts.slice(0, 5)), writeSafetensors(ts.slice(5))];
    const cfg = { ...llamaConfig, model_type: 'qwen2', tie_word_embeddings: true };
    const m = loadSafetensors({ config: cfg, weights: shards, tokenizerConfig: { add_bos_token: false } }, { tokenizer: stubTokenizer(V) });
    expect(m.spec).toMatchObject({ rope: { kind: 'half' }, qkvBias: true, tiedEmbeddings: true, addBos: false });
    expect(m.tensors.get('blk.0.attn_k.bias')!.shape).toEqual([KV * HD]);
    expect(sameBytes(m.tensors.get('blk.0.attn_v.bias')!.data, ts.find((t) => t.name === 'layers.0.self_attn.v_proj.bias')!.data)).toBe(true);
    expect(m.meta.shards).toBe(2);
    // The same shard twice: duplicate tensor names.
    expectLoadError(() => loadSafetensors({ config: cfg, weights: [shards[0], shards[0], shards[1]] }, { tokenizer: stubTokenizer(V) }), 'bad-header', 'another shard');
    // A missing shard: missing tensors.
    expectLoadError(() => loadSafetensors({ config: cfg, weights: [shards[1]] }, { tokenizer: stubTokenizer(V) }), 'missing-tensor');
    // qwen2 without its biases.
    const nb = writeSafetensors(llamaTensors({ prefix: '' }));
    expectLoadError(() => loadSafetensors({ config: cfg, weights: [nb] }, { tokenizer: stubTokenizer(V) }), 'missing-tensor', 'blk.0.attn_q.bias');
  });

  it('mistral: sliding window caps the context; F16 and BF16 stay in their stored type', () => {
    for (const dtype of ['F16', 'BF16'] as const) {
      const ts = llamaTensors({ dtype, lmHead: true });
      const m = loadSafetensors({ config: { ...llamaConfig, model_type: 'mistral', sliding_window: 32 }, weights: [writeSafetensors(ts)] }, { tokenizer: stubTokenizer(V) });
      expect(m.spec.contextLength).toBe(32);
      const t = m.tensors.get('blk.0.ffn_down')!;
      expect(t.type).toBe(dtype === 'F16' ? GGMLType.F16 : GGMLType.BF16);
      expect(t.data.length).toBe(C * F * 2);
      const u16 = new DataView(t.data.buffer, t.data.byteOffset).getUint16(0, true);
      const want = new DataView(ts.find((x) => x.name.endsWith('down_proj.weight'))!.data.buffer).getUint16(0, true);
      expect(u16).toBe(want);
      expect(Number.isFinite(dtype === 'F16' ? f16ToF32(u16) : bf16ToF32(u16))).toBe(true);
    }
  });

  it('GPT-2 Conv1D weights in F16 are transposed into F32', () => {
    const { header, data } = splitSafetensors(st);
    const f16 = (b: Uint8Array): Uint8Array => {
      const f = f32View(b);
      const out = new Uint16Array(f.length);
      for (let i = 0; i < f.length; i++) out[i] = 0x3c00 + (i % 1000); // 1.0 + i/1024-ish, exact in f16
      return new Uint8Array(out.buffer);
    };
    const tensors = Object.entries(header).map(([name, e]) => {
      const d = data.subarray(e.data_offsets[0], e.data_offsets[1]);
      return name.endsWith('mlp.c_fc.weight') ? { name, dtype: 'F16', shape: e.shape, data: f16(d) } : { name, dtype: e.dtype, shape: e.shape, data: d };
    });
    const m = loadSafetensors({ config, weights: [writeSafetensors(tensors)], tokenizerJson });
    const t = m.tensors.get('blk.0.ffn_up')!;
    expect(t.type).toBe(GGMLType.F32);
    expect(t.shape).toEqual([512, 128]);
    const w = f32View(t.data);
    // raw [in=128][out=512], element (i, o) = f16(0x3c00 + ((i*512 + o) % 1000)); canonical [o][i].
    for (const [o, i] of [[0, 0], [1, 0], [0, 1], [511, 127], [300, 3]]) {
      expect(w[o * 128 + i]).toBe(f16ToF32(0x3c00 + ((i * 512 + o) % 1000)));
    }
  });

  it('rejects llama variants the graph does not implement', () => {
    const w = [writeSafetensors(llamaTensors({ lmHead: true }))];
    const load = (c: object) => loadSafetensors({ config: { ...llamaConfig, ...c }, weights: w }, { tokenizer: stubTokenizer(V) });
    expectLoadError(() => load({ rope_scaling: { rope_type: 'llama3', factor: 8 } }), 'unsupported-feature', 'rope_scaling');
    expectLoadError(() => load({ hidden_act: 'gelu' }), 'unsupported-feature', 'gelu');
    expectLoadError(() => load({ num_key_value_heads: 2 }), 'bad-shape', 'blk.0.attn_k', '[4, 8]', '[8, 8]');
    expectLoadError(() => load({ model_type: 'gemma' }), 'unsupported-architecture', 'gemma');
    expect(load({ rope_scaling: { rope_type: 'default' } }).spec.rope.kind).toBe('half');
  });
});
