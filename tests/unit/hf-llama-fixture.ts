// A Hugging Face Llama checkpoint (config.json + model.safetensors, rotate-half Q/K layout) built in
// memory from stories260K's llama2.c weights, so the HF path (spec.rope.kind = 'half') can be checked
// against the stories260K references, which were produced on the adjacent-pair layout.
//
// Why a permutation. llama2.c / Meta / GGUF rotate adjacent pairs (2i, 2i+1) of each head with angle
// pos * theta^(-2i/D); Hugging Face's rotate_half rotates (i, i + D/2) with the same angle. Meta's
// convert_llama_weights_to_hf.py therefore reorders the output rows of wq and wk inside every head:
//   permute(w, n_heads) = w.view(n_heads, D/2, 2, in).transpose(1, 2).reshape(n_heads * D, in)
// The view index (h, i, s) is Meta row h*D + 2i + s; after the transpose it sits at (h, s, i), HF row
// h*D + s*D/2 + i. So HF[h*D + s*D/2 + i] = Meta[h*D + 2i + s]: the even members of the pairs first,
// then the odd ones, and HF's pair (i, i + D/2) holds Meta's pair (2i, 2i+1). llama.cpp's
// convert_hf_to_gguf.py undoes it with w.reshape(n_head, 2, D/2, in).swapaxes(1, 2) (its `permute`),
// i.e. GGUF[h*D + 2i + s] = HF[h*D + s*D/2 + i]; for wk the head count is n_kv_heads. Q.K is a sum
// over the same pairs in both layouts and V / wo are untouched, so the HF model computes the same logits.
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import type { LoadedModel } from '../../src/core/formats/types.ts';
import { tensorToF32 } from '../../src/core/model/weights.ts';
import { readModelBytes } from '../helpers/models.ts';

export interface F32Tensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** safetensors writer (huggingface/safetensors format): u64 LE header size, JSON header padded with spaces to 8 bytes, F32 data. */
export function writeSafetensors(tensors: F32Tensor[], metadata: Record<string, string> = { format: 'pt' }): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let off = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`${t.name}: shape ${t.shape} does not hold ${t.data.length} values`);
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [off, off + 4 * n] };
    off += 4 * n;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += ' ';
  const hb = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hb.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  let p = 8 + hb.length;
  for (const t of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), p);
    p += t.data.byteLength;
  }
  return out;
}

/** Meta/llama2.c/GGUF (adjacent pairs) -> Hugging Face (rotate-half) row order, per head: HF[h*D + s*D/2 + i] = Meta[h*D + 2i + s]. */
export function metaToHf(w: Float32Array, nHeads: number, headDim: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  const half = headDim / 2;
  for (let h = 0; h < nHeads; h++) {
    for (let i = 0; i < half; i++) {
      for (let s = 0; s < 2; s++) {
        const src = h * headDim + 2 * i + s;
        const dst = h * headDim + s * half + i;
        out.set(w.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
    }
  }
  return out;
}

/**
 * llama.cpp's convert_hf_to_gguf.py `permute` (HF -> GGUF), written as numpy would evaluate
 * w.reshape(n_head, 2, D/2, in).swapaxes(1, 2).reshape(out, in): output element (h, i, s, c) of the
 * swapped view comes from input (h, s, i, c).
 */
export function llamaCppPermute(w: Float32Array, nHead: number, headDim: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  const half = headDim / 2;
  for (let h = 0; h < nHead; h++) {
    for (let i = 0; i < half; i++) {
      for (let s = 0; s < 2; s++) {
        const outRow = h * headDim + i * 2 + s; // view (h, i, s) flattened
        const inRow = h * headDim + s * half + i; // source (h, s, i) flattened
        for (let c = 0; c < cols; c++) out[outRow * cols + c] = w[inRow * cols + c];
      }
    }
  }
  return out;
}

/** Repeat each KV head's rows for its query heads: [Hkv*D, C] -> [H*D, C]; `map` picks the KV head of query head h. */
export function expandKvHeads(w: Float32Array, H: number, Hkv: number, D: number, C: number, map = (h: number) => Math.floor(h / (H / Hkv))): Float32Array {
  const out = new Float32Array(H * D * C);
  for (let h = 0; h < H; h++) {
    const g = map(h);
    out.set(w.subarray(g * D * C, (g + 1) * D * C), h * D * C);
  }
  return out;
}

export function loadStoriesLlama2c(): LoadedModel {
  return loadModelFromFiles([
    { name: 'stories260K.bin', bytes: readModelBytes('stories260K/stories260K.bin') },
    { name: 'tok512.bin', bytes: readModelBytes('stories260K/tok512.bin') },
  ]);
}

export interface HfVariant {
  /** 'gqa': keep 4 KV heads (num_key_value_heads 4); 'mha': expand K/V to 8 heads (num_key_value_heads 8). */
  heads?: 'gqa' | 'mha';
  /** Write lm_head.weight and tie_word_embeddings false. */
  untied?: boolean;
  /** Skip the Meta -> HF permutation of q_proj / k_proj (a deliberately wrong checkpoint). */
  skipPermute?: boolean;
  /** KV head for query head h in the 'mha' expansion (default floor(h / 2), the GQA rule). */
  kvMap?: (h: number) => number;
  /** Add the rotary_emb.inv_freq buffers older transformers versions saved. */
  invFreq?: boolean;
}

/** config.json + model.safetensors of a Hugging Face LlamaForCausalLM holding stories260K. */
export function hfFilesFromStories(src: LoadedModel, v: HfVariant = {}): { name: string; bytes: Uint8Array }[] {
  const s = src.spec;
  const C = s.dModel;
  const D = s.headDim;
  const H = s.nHeads;
  const Hkv = v.heads === 'mha' ? H : s.nKvHeads;
  const get = (n: string): Float32Array => {
    const t = src.tensors.get(n);
    if (!t) throw new Error(`source has no ${n}`);
    return tensorToF32(t).slice();
  };
  const perm = (w: Float32Array, heads: number) => (v.skipPermute ? w : metaToHf(w, heads, D, C));
  const ts: F32Tensor[] = [{ name: 'model.embed_tokens.weight', shape: [s.vocabSize, C], data: get('token_embd') }];
  for (let l = 0; l < s.nLayers; l++) {
    const p = `model.layers.${l}.`;
    const b = `blk.${l}.`;
    let k = get(`${b}attn_k`);
    let vv = get(`${b}attn_v`);
    if (v.heads === 'mha') {
      k = expandKvHeads(k, H, s.nKvHeads, D, C, v.kvMap);
      vv = expandKvHeads(vv, H, s.nKvHeads, D, C, v.kvMap);
    }
    ts.push(
      { name: `${p}input_layernorm.weight`, shape: [C], data: get(`${b}attn_norm`) },
      { name: `${p}self_attn.q_proj.weight`, shape: [H * D, C], data: perm(get(`${b}attn_q`), H) },
      { name: `${p}self_attn.k_proj.weight`, shape: [Hkv * D, C], data: perm(k, Hkv) },
      { name: `${p}self_attn.v_proj.weight`, shape: [Hkv * D, C], data: vv },
      { name: `${p}self_attn.o_proj.weight`, shape: [C, H * D], data: get(`${b}attn_output`) },
      { name: `${p}post_attention_layernorm.weight`, shape: [C], data: get(`${b}ffn_norm`) },
      { name: `${p}mlp.gate_proj.weight`, shape: [s.dFF, C], data: get(`${b}ffn_gate`) },
      { name: `${p}mlp.up_proj.weight`, shape: [s.dFF, C], data: get(`${b}ffn_up`) },
      { name: `${p}mlp.down_proj.weight`, shape: [C, s.dFF], data: get(`${b}ffn_down`) },
    );
    if (v.invFreq) {
      const inv = new Float32Array(D / 2).map((_, i) => Math.pow(s.rope.theta, (-2 * i) / D));
      ts.push({ name: `${p}self_attn.rotary_emb.inv_freq`, shape: [D / 2], data: inv });
    }
  }
  ts.push({ name: 'model.norm.weight', shape: [C], data: get('output_norm') });
  if (v.untied) ts.push({ name: 'lm_head.weight', shape: [s.vocabSize, C], data: get('token_embd') });
  const config = {
    _name_or_path: 'stories260K-hf-test',
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: C,
    intermediate_size: s.dFF,
    num_hidden_layers: s.nLayers,
    num_attention_heads: H,
    num_key_value_heads: Hkv,
    hidden_act: 'silu',
    max_position_embeddings: s.contextLength,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    tie_word_embeddings: !v.untied,
    vocab_size: s.vocabSize,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: 'float32',
  };
  return [
    { name: 'stories260K-hf/config.json', bytes: new TextEncoder().encode(JSON.stringify(config, null, 2)) },
    { name: 'stories260K-hf/model.safetensors', bytes: writeSafetensors(ts) },
  ];
}

/** The HF model, loaded through the safetensors path with stories260K's own (llama2.c) tokenizer. */
export function loadHfStories(src: LoadedModel, v: HfVariant = {}): LoadedModel {
  return loadModelFromFiles(hfFilesFromStories(src, v), { tokenizer: src.tokenizer });
}
