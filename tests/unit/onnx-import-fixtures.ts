// Test ONNX graphs of a Llama model (stories260K's weights), written here independently of LayerLab's
// exporter (src/onnx/export.ts) and of the importer under test, in two styles:
//   'optimum': Hugging Face Optimum / transformers.js-like: node names /model/layers.N/..., tensors
//     <node>_output_0, decomposed RMSNorm (Pow-ReduceMean-Add-Sqrt-Div-Mul-Mul), rotate_half RoPE on
//     q/k weights permuted to the half layout (as transformers' Llama conversion does), cos/sin gathered
//     by position_ids, past_key_values inputs concatenated on the sequence axis (present outputs), GQA by
//     Unsqueeze-Expand-Reshape, scores scaled after QK^T, causal mask from Trilu with k = past + 1,
//     an untied lm_head copy.
//   'anonymous': no node names, tensors t0, t1, ..., initializers w0, w1, ...; fused
//     SimplifiedLayerNormalization for the attention and final norms, SkipSimplifiedLayerNormalization
//     (com.microsoft) fusing the attention residual add with the MLP norm, adjacent-pair RoPE on the
//     original weights (Reshape [.., D/2, 2]), GQA by Gather on the head axis, q scaled before QK^T, the
//     causal mask sliced from a table, tied unembedding through a Transpose of the embedding.
// Both compute the llama2.c forward (run.c), so their logits and residual streams must equal the
// native engine's.

import type { LoadedModel } from '../../src/core/formats/types.ts';
import { tensorToF32 } from '../../src/core/model/weights.ts';
import { f32ToF16 } from '../../src/core/quant/half.ts';
import { OnnxDataType, float32Tensor, tensorValueInfo, type OnnxAttribute, type OnnxModel, type OnnxNode, type OnnxTensor } from '../../src/onnx/proto.ts';

const aI = (name: string, i: number): OnnxAttribute => ({ name, type: 2, i });
const aF = (name: string, f: number): OnnxAttribute => ({ name, type: 1, f });
const aInts = (name: string, ints: number[]): OnnxAttribute => ({ name, type: 7, ints });

export function i64Tensor(name: string, dims: number[], values: number[]): OnnxTensor {
  const b = new BigInt64Array(values.map((v) => BigInt(v)));
  return { name, dims, dataType: OnnxDataType.INT64, rawData: new Uint8Array(b.buffer) };
}

function transposeRM(x: Float32Array, rows: number, cols: number): Float32Array {
  const o = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) o[c * rows + r] = x[r * cols + c];
  return o;
}

/** Rows of a [H*D, C] projection reordered so pairs (2i, 2i+1) of each head become (i, i + D/2). */
export function permuteHalf(w: Float32Array, H: number, D: number, C: number): Float32Array {
  const o = new Float32Array(w.length);
  for (let h = 0; h < H; h++) {
    for (let j = 0; j < D; j++) {
      const src = h * D + (j < D / 2 ? 2 * j : 2 * (j - D / 2) + 1);
      o.set(w.subarray(src * C, (src + 1) * C), (h * D + j) * C);
    }
  }
  return o;
}

class Builder {
  nodes: OnnxNode[] = [];
  inits: OnnxTensor[] = [];
  private n = 0;
  constructor(private anon: boolean) {}
  tname(hint: string): string {
    return this.anon ? `t${this.n++}` : hint;
  }
  wname(hint: string): string {
    return this.anon ? `w${this.n++}` : hint;
  }
  op(opType: string, input: string[], name: string, attribute: OnnxAttribute[] = [], domain?: string, nOut = 1): string {
    const outs = Array.from({ length: nOut }, (_, i) => this.tname(`${name}_output_${i}`));
    this.nodes.push({ opType, input, output: outs, name: this.anon ? undefined : name, attribute, ...(domain ? { domain } : {}) });
    return outs[0];
  }
  f32(hint: string, dims: number[], v: Float32Array): string {
    const n = this.wname(hint);
    this.inits.push(float32Tensor(n, dims, v));
    return n;
  }
  i64(hint: string, dims: number[], v: number[]): string {
    const n = this.wname(hint);
    this.inits.push(i64Tensor(n, dims, v));
    return n;
  }
  scalar(hint: string, v: number): string {
    return this.f32(hint, [], new Float32Array([v]));
  }
}

export interface FixtureOptions {
  style: 'optimum' | 'anonymous';
  /** Optimum style only: past_key_values inputs and present outputs. */
  past?: boolean;
  /** Positions in the RoPE tables (default the model's context length). */
  maxPos?: number;
  /** Anonymous style only: the last MLP residual add and the final norm as one SkipSimplifiedLayerNormalization without its sum output (as onnxruntime's optimizer leaves it). */
  fusedFinal?: boolean;
}

export function llamaOnnx(model: LoadedModel, o: FixtureOptions): OnnxModel {
  const s = model.spec;
  const { nLayers: L, dModel: C, nHeads: H, nKvHeads: Hkv, headDim: D, dFF: F, vocabSize: V } = s;
  const maxPos = o.maxPos ?? s.contextLength;
  const eps = s.norm.eps;
  const anon = o.style === 'anonymous';
  const past = !anon && !!o.past;
  const fusedFinal = anon && !!o.fusedFinal;
  const b = new Builder(anon);
  const w = (n: string): Float32Array => tensorToF32(model.tensors.get(n)!);
  const linW = (hint: string, name: string, rows: number, cols: number, perm = false): string => {
    let m = w(name);
    if (perm) m = permuteHalf(m, rows / D, D, cols);
    return b.f32(hint, [cols, rows], transposeRM(m, rows, cols));
  };

  // Inputs.
  const ids = anon ? 'ids0' : 'input_ids';
  const inputs = [tensorValueInfo(ids, OnnxDataType.INT64, ['batch_size', 'sequence_length'])];
  if (!anon) {
    inputs.push(tensorValueInfo('attention_mask', OnnxDataType.INT64, ['batch_size', 'total_sequence_length']));
    inputs.push(tensorValueInfo('position_ids', OnnxDataType.INT64, ['batch_size', 'sequence_length']));
  }
  const outputs = [tensorValueInfo(anon ? 'y' : 'logits', OnnxDataType.FLOAT, ['batch_size', 'sequence_length', V])];
  if (past) {
    for (let l = 0; l < L; l++) {
      for (const kv of ['key', 'value']) {
        inputs.push(tensorValueInfo(`past_key_values.${l}.${kv}`, OnnxDataType.FLOAT, ['batch_size', Hkv, 'past_sequence_length', D]));
        outputs.push(tensorValueInfo(`present.${l}.${kv}`, OnnxDataType.FLOAT, ['batch_size', Hkv, 'total_sequence_length', D]));
      }
    }
  }

  // RoPE tables: freq_m = theta^(-2m/D), m = 0..D/2-1 (llama2.c run.c).
  const half = D / 2;
  const ang = (p: number, m: number) => p * Math.pow(s.rope.theta, (-2 * m) / D);
  const embW = b.f32('model.embed_tokens.weight', [V, C], w('token_embd'));
  const x0 = b.op('Gather', [embW, ids], '/model/embed_tokens/Gather', [aI('axis', 0)]);
  const Tlen = b.op('Shape', [ids], '/model/Shape', [aI('start', 1), aI('end', 2)]);
  const one64 = b.i64('/model/Constant_one', [1], [1]);
  const zero64 = b.i64('/model/Constant_zero', [1], [0]);

  let cos: string, sin: string, mask: string;
  if (!anon) {
    const cosT = new Float32Array(maxPos * D);
    const sinT = new Float32Array(maxPos * D);
    for (let p = 0; p < maxPos; p++) for (let j = 0; j < D; j++) {
      cosT[p * D + j] = Math.cos(ang(p, j % half));
      sinT[p * D + j] = Math.sin(ang(p, j % half));
    }
    const ax1 = b.i64('/model/rotary_emb/axes', [1], [1]);
    cos = b.op('Unsqueeze', [b.op('Gather', [b.f32('cos_cached', [maxPos, D], cosT), 'position_ids'], '/model/rotary_emb/Gather', [aI('axis', 0)]), ax1], '/model/rotary_emb/Unsqueeze');
    sin = b.op('Unsqueeze', [b.op('Gather', [b.f32('sin_cached', [maxPos, D], sinT), 'position_ids'], '/model/rotary_emb/Gather_1', [aI('axis', 0)]), ax1], '/model/rotary_emb/Unsqueeze_1');
    // mask [T, P+T]: -1e9 where column > P + row.
    const P = past ? b.op('Shape', ['past_key_values.0.key'], '/model/Shape_1', [aI('start', 2), aI('end', 3)]) : zero64;
    const S = b.op('Add', [Tlen, P], '/model/Add_len');
    const shape = b.op('Concat', [Tlen, S], '/model/Concat_mask', [aI('axis', 0)]);
    const big = b.op('ConstantOfShape', [shape], '/model/ConstantOfShape', [{ name: 'value', type: 4, t: float32Tensor('v', [1], new Float32Array([-1e9])) }]);
    const k = b.op('Squeeze', [b.op('Add', [P, one64], '/model/Add_k'), zero64], '/model/Squeeze_k');
    mask = b.op('Trilu', [big, k], '/model/Trilu', [aI('upper', 1)]);
  } else {
    const cosT = new Float32Array(maxPos * half);
    const sinT = new Float32Array(maxPos * half);
    for (let p = 0; p < maxPos; p++) for (let m = 0; m < half; m++) {
      cosT[p * half + m] = Math.cos(ang(p, m));
      sinT[p * half + m] = Math.sin(ang(p, m));
    }
    const ax0 = b.i64('ax0', [1], [0]);
    cos = b.op('Slice', [b.f32('cos', [maxPos, 1, half, 1], cosT), zero64, Tlen, ax0], 'slice_cos');
    sin = b.op('Slice', [b.f32('sin', [maxPos, 1, half, 1], sinT), zero64, Tlen, ax0], 'slice_sin');
    const mt = new Float32Array(maxPos * maxPos);
    for (let r = 0; r < maxPos; r++) for (let c = r + 1; c < maxPos; c++) mt[r * maxPos + c] = -Infinity;
    const TT = b.op('Concat', [Tlen, Tlen], 'tt', [aI('axis', 0)]);
    mask = b.op('Slice', [b.f32('mask', [maxPos, maxPos], mt), b.i64('z2', [2], [0, 0]), TT, b.i64('ax01', [2], [0, 1])], 'slice_mask');
  }

  const rmsDecomposed = (x: string, weight: string, p: string): string => {
    const pw = b.op('Pow', [x, b.scalar(`${p}/Constant_2`, 2)], `${p}/Pow`);
    const mean = b.op('ReduceMean', [pw], `${p}/ReduceMean`, [aInts('axes', [-1]), aI('keepdims', 1)]);
    const add = b.op('Add', [mean, b.scalar(`${p}/Constant_eps`, eps)], `${p}/Add`);
    const sq = b.op('Sqrt', [add], `${p}/Sqrt`);
    const inv = b.op('Div', [b.scalar(`${p}/Constant_1`, 1), sq], `${p}/Div`);
    const xn = b.op('Mul', [x, inv], `${p}/Mul`);
    return b.op('Mul', [weight, xn], `${p}/Mul_1`);
  };
  const simplified = (x: string, weight: string, p: string): string =>
    b.op('SimplifiedLayerNormalization', [x, weight], `${p}/SimplifiedLayerNormalization`, [aF('epsilon', eps), aI('axis', -1)]);

  const g = H / Hkv;
  const rotateHalf = (x: string, p: string): string => {
    const ax = b.i64(`${p}/axes3`, [1], [3]);
    const x1 = b.op('Slice', [x, zero64, b.i64(`${p}/half`, [1], [half]), ax], `${p}/Slice`);
    const x2 = b.op('Slice', [x, b.i64(`${p}/half_s`, [1], [half]), b.i64(`${p}/end`, [1], [D]), ax], `${p}/Slice_1`);
    return b.op('Concat', [b.op('Neg', [x2], `${p}/Neg`), x1], `${p}/Concat`, [aI('axis', -1)]);
  };
  const ropeHalf = (x: string, p: string): string =>
    b.op('Add', [b.op('Mul', [x, cos], `${p}/Mul`), b.op('Mul', [rotateHalf(x, p), sin], `${p}/Mul_1`)], `${p}/Add`);
  // adjacent pairs on [1, T, nh, D] -> [1, T, nh, D]
  const ropeAdjacent = (x: string, nh: number, p: string): string => {
    const r = b.op('Reshape', [x, b.i64(`${p}/shape5`, [5], [0, 0, nh, half, 2])], `${p}/Reshape`);
    const ax4 = b.i64(`${p}/ax4`, [1], [4]);
    const e0 = b.op('Slice', [r, zero64, one64, ax4], `${p}/Slice0`);
    const e1 = b.op('Slice', [r, one64, b.i64(`${p}/two`, [1], [2]), ax4], `${p}/Slice1`);
    const o0 = b.op('Sub', [b.op('Mul', [e0, cos], `${p}/m0`), b.op('Mul', [e1, sin], `${p}/m1`)], `${p}/sub`);
    const o1 = b.op('Add', [b.op('Mul', [e0, sin], `${p}/m2`), b.op('Mul', [e1, cos], `${p}/m3`)], `${p}/add`);
    return b.op('Reshape', [b.op('Concat', [o0, o1], `${p}/cat`, [aI('axis', 4)]), b.i64(`${p}/shape4`, [4], [0, 0, nh, D])], `${p}/Reshape_1`);
  };

  let x = x0;
  let normedForMlp: string | null = null;
  for (let l = 0; l < L; l++) {
    const p = `/model/layers.${l}`;
    const t = `model.layers.${l}`;
    // attention norm
    const hn = anon ? simplified(x, b.f32(`${t}.input_layernorm.weight`, [C], w(`blk.${l}.attn_norm`)), `${p}/input_layernorm`) : rmsDecomposed(x, b.f32(`${t}.input_layernorm.weight`, [C], w(`blk.${l}.attn_norm`)), `${p}/input_layernorm`);
    const q = b.op('MatMul', [hn, linW(`onnx::MatMul_q${l}`, `blk.${l}.attn_q`, H * D, C, !anon)], `${p}/self_attn/q_proj/MatMul`);
    const k = b.op('MatMul', [hn, linW(`onnx::MatMul_k${l}`, `blk.${l}.attn_k`, Hkv * D, C, !anon)], `${p}/self_attn/k_proj/MatMul`);
    const v = b.op('MatMul', [hn, linW(`onnx::MatMul_v${l}`, `blk.${l}.attn_v`, Hkv * D, C)], `${p}/self_attn/v_proj/MatMul`);
    const perm0213 = [aInts('perm', [0, 2, 1, 3])];
    const qr = b.op('Reshape', [q, b.i64(`${p}/self_attn/q_shape`, [4], [0, 0, H, D])], `${p}/self_attn/Reshape`);
    const kr = b.op('Reshape', [k, b.i64(`${p}/self_attn/k_shape`, [4], [0, 0, Hkv, D])], `${p}/self_attn/Reshape_1`);
    const vr = b.op('Reshape', [v, b.i64(`${p}/self_attn/v_shape`, [4], [0, 0, Hkv, D])], `${p}/self_attn/Reshape_2`);
    let qh: string, kh: string, vh: string;
    if (!anon) {
      qh = ropeHalf(b.op('Transpose', [qr], `${p}/self_attn/Transpose`, perm0213), `${p}/self_attn/rope_q`);
      kh = ropeHalf(b.op('Transpose', [kr], `${p}/self_attn/Transpose_1`, perm0213), `${p}/self_attn/rope_k`);
      vh = b.op('Transpose', [vr], `${p}/self_attn/Transpose_2`, perm0213);
      if (past) {
        kh = b.op('Concat', [`past_key_values.${l}.key`, kh], `${p}/self_attn/Concat_k`, [aI('axis', 2)]);
        vh = b.op('Concat', [`past_key_values.${l}.value`, vh], `${p}/self_attn/Concat_v`, [aI('axis', 2)]);
        b.nodes.push({ opType: 'Identity', input: [kh], output: [`present.${l}.key`], name: `${p}/self_attn/present_k` });
        b.nodes.push({ opType: 'Identity', input: [vh], output: [`present.${l}.value`], name: `${p}/self_attn/present_v` });
      }
      const rep = (z: string, nm: string): string => {
        const u = b.op('Unsqueeze', [z, b.i64(`${p}/self_attn/${nm}_ax`, [1], [2])], `${p}/self_attn/${nm}_Unsqueeze`);
        const e = b.op('Expand', [u, b.i64(`${p}/self_attn/${nm}_exp`, [5], [1, 1, g, 1, 1])], `${p}/self_attn/${nm}_Expand`);
        return b.op('Reshape', [e, b.i64(`${p}/self_attn/${nm}_rs`, [4], [1, H, -1, D])], `${p}/self_attn/${nm}_Reshape`);
      };
      kh = rep(kh, 'k');
      vh = rep(vh, 'v');
    } else {
      qh = b.op('Transpose', [ropeAdjacent(qr, H, `${p}/rq`)], `${p}/tq`, perm0213);
      qh = b.op('Mul', [qh, b.scalar(`${p}/qscale`, 1 / Math.sqrt(D))], `${p}/qs`);
      const kvIdx = b.i64(`${p}/kvidx`, [H], Array.from({ length: H }, (_, h) => Math.floor(h / g)));
      kh = b.op('Gather', [b.op('Transpose', [ropeAdjacent(kr, Hkv, `${p}/rk`)], `${p}/tk`, perm0213), kvIdx], `${p}/gk`, [aI('axis', 1)]);
      vh = b.op('Gather', [b.op('Transpose', [vr], `${p}/tv`, perm0213), kvIdx], `${p}/gv`, [aI('axis', 1)]);
    }
    let sc = b.op('MatMul', [qh, b.op('Transpose', [kh], `${p}/self_attn/Transpose_3`, [aInts('perm', [0, 1, 3, 2])])], `${p}/self_attn/MatMul`);
    if (!anon) sc = b.op('Mul', [sc, b.scalar(`${p}/self_attn/scale`, 1 / Math.sqrt(D))], `${p}/self_attn/Mul`);
    const pr = b.op('Softmax', [b.op('Add', [sc, mask], `${p}/self_attn/Add_mask`)], `${p}/self_attn/Softmax`, [aI('axis', -1)]);
    const ctx = b.op('Reshape', [b.op('Transpose', [b.op('MatMul', [pr, vh], `${p}/self_attn/MatMul_1`)], `${p}/self_attn/Transpose_4`, perm0213), b.i64(`${p}/self_attn/o_shape`, [3], [0, 0, H * D])], `${p}/self_attn/Reshape_3`);
    const o = b.op('MatMul', [ctx, linW(`onnx::MatMul_o${l}`, `blk.${l}.attn_output`, C, H * D)], `${p}/self_attn/o_proj/MatMul`);
    // residual add (+ MLP norm)
    const ffnW = b.f32(`${t}.post_attention_layernorm.weight`, [C], w(`blk.${l}.ffn_norm`));
    let mid: string;
    if (anon) {
      const outs = [b.tname('skip_norm'), '', '', b.tname('skip_sum')];
      b.nodes.push({ opType: 'SkipSimplifiedLayerNormalization', domain: 'com.microsoft', input: [x, o, ffnW], output: outs, attribute: [aF('epsilon', eps)] });
      normedForMlp = outs[0];
      mid = outs[3];
    } else {
      mid = b.op('Add', [x, o], `${p}/Add`);
      normedForMlp = rmsDecomposed(mid, ffnW, `${p}/post_attention_layernorm`);
    }
    const gt = b.op('MatMul', [normedForMlp, linW(`onnx::MatMul_g${l}`, `blk.${l}.ffn_gate`, F, C)], `${p}/mlp/gate_proj/MatMul`);
    const up = b.op('MatMul', [normedForMlp, linW(`onnx::MatMul_u${l}`, `blk.${l}.ffn_up`, F, C)], `${p}/mlp/up_proj/MatMul`);
    const silu = anon ? b.op('Mul', [b.op('Sigmoid', [gt], `${p}/sig`), gt], `${p}/silu`) : b.op('Mul', [gt, b.op('Sigmoid', [gt], `${p}/mlp/act_fn/Sigmoid`)], `${p}/mlp/act_fn/Mul`);
    const act = b.op('Mul', anon ? [up, silu] : [silu, up], `${p}/mlp/Mul`);
    const dn = b.op('MatMul', [act, linW(`onnx::MatMul_d${l}`, `blk.${l}.ffn_down`, C, F)], `${p}/mlp/down_proj/MatMul`);
    if (fusedFinal && l === L - 1) {
      x = mid;
      normedForMlp = dn; // the last sublayer output, fused below
    } else x = b.op('Add', anon ? [dn, mid] : [mid, dn], `${p}/Add_1`);
  }
  const onW = b.f32('model.norm.weight', [C], w('output_norm'));
  let hf: string;
  if (fusedFinal) {
    hf = b.tname('final_norm');
    b.nodes.push({ opType: 'SkipSimplifiedLayerNormalization', domain: 'com.microsoft', input: [x, normedForMlp!, onW], output: [hf], attribute: [aF('epsilon', eps)] });
  } else hf = anon ? simplified(x, onW, '/model/norm') : rmsDecomposed(x, onW, '/model/norm');
  const outName = outputs[0].name;
  if (anon) {
    const wt = b.op('Transpose', [embW], 'tied', [aInts('perm', [1, 0])]);
    b.nodes.push({ opType: 'MatMul', input: [hf, wt], output: [outName] });
  } else {
    const lm = b.f32('onnx::MatMul_lm_head', [C, V], transposeRM(w('token_embd'), V, C));
    b.nodes.push({ opType: 'MatMul', input: [hf, lm], output: [outName], name: '/lm_head/MatMul' });
  }
  return {
    irVersion: 8,
    producerName: anon ? 'layerlab-test-anon' : 'layerlab-test-optimum-like',
    opsetImport: [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }],
    graph: { name: 'main_graph', node: b.nodes, initializer: b.inits, input: inputs, output: outputs },
  };
}

/** A graph that is not a decoder LM: x -> MatMul -> Relu -> MatMul -> y. */
export function mlpOnnx(): OnnxModel {
  const w1 = float32Tensor('w1', [4, 8], new Float32Array(32).fill(0.1));
  const w2 = float32Tensor('w2', [8, 3], new Float32Array(24).fill(0.2));
  return {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'mlp',
      node: [
        { opType: 'MatMul', input: ['x', 'w1'], output: ['h'] },
        { opType: 'Relu', input: ['h'], output: ['r'] },
        { opType: 'MatMul', input: ['r', 'w2'], output: ['y'] },
      ],
      initializer: [w1, w2],
      input: [tensorValueInfo('x', OnnxDataType.FLOAT, ['n', 4])],
      output: [tensorValueInfo('y', OnnxDataType.FLOAT, ['n', 3])],
    },
  };
}

/** Embedding straight into an unembedding: an LM-looking graph without blocks or norms. */
export function bagOfWordsOnnx(V = 16, C = 4): OnnxModel {
  const e = float32Tensor('emb', [V, C], Float32Array.from({ length: V * C }, (_, i) => Math.sin(i)));
  const u = float32Tensor('unemb', [C, V], Float32Array.from({ length: V * C }, (_, i) => Math.cos(i)));
  return {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'bow',
      node: [
        { opType: 'Gather', input: ['emb', 'input_ids'], output: ['h'] },
        { opType: 'MatMul', input: ['h', 'unemb'], output: ['logits'] },
      ],
      initializer: [e, u],
      input: [tensorValueInfo('input_ids', OnnxDataType.INT64, ['b', 's'])],
      output: [tensorValueInfo('logits', OnnxDataType.FLOAT, ['b', 's', V])],
    },
  };
}

/** Strip every node name (the graph's structure stays). */
export function stripNames(m: OnnxModel): OnnxModel {
  return { ...m, graph: { ...m.graph!, node: m.graph!.node!.map((n) => ({ ...n, name: undefined })) } };
}

/**
 * Replace every LayerNormalization (axis -1) by its decomposition, as older exporters write it:
 * mean = ReduceMean(x); d = x - mean; var = ReduceMean(d^2); y = d / Sqrt(var + eps) * gamma + beta.
 */
export function decomposeLayerNorms(m: OnnxModel): OnnxModel {
  const nodes: OnnxNode[] = [];
  const inits = [...m.graph!.initializer!];
  let k = 0;
  for (const n of m.graph!.node!) {
    if (n.opType !== 'LayerNormalization') {
      nodes.push(n);
      continue;
    }
    const eps = n.attribute?.find((a) => a.name === 'epsilon')?.f ?? 1e-5;
    const [x, gamma, beta] = n.input!;
    const t = (s: string) => `ln${k}_${s}`;
    inits.push(float32Tensor(t('two'), [], new Float32Array([2])), float32Tensor(t('eps'), [], new Float32Array([eps])));
    const axes = [aInts('axes', [-1]), aI('keepdims', 1)];
    nodes.push(
      { opType: 'ReduceMean', input: [x], output: [t('mean')], attribute: axes },
      { opType: 'Sub', input: [x, t('mean')], output: [t('d')] },
      { opType: 'Pow', input: [t('d'), t('two')], output: [t('sq')] },
      { opType: 'ReduceMean', input: [t('sq')], output: [t('var')], attribute: axes },
      { opType: 'Add', input: [t('var'), t('eps')], output: [t('ve')] },
      { opType: 'Sqrt', input: [t('ve')], output: [t('std')] },
      { opType: 'Div', input: [t('d'), t('std')], output: [t('xn')] },
      { opType: 'Mul', input: [t('xn'), gamma], output: [t('xg')] },
      { opType: 'Add', input: [t('xg'), beta], output: [n.output![0]] },
    );
    k++;
  }
  return { ...m, graph: { ...m.graph!, node: nodes, initializer: inits } };
}

/** Every 2-D float32 initializer stored as float16 and Cast back to float32 before use (fp16 weights, fp32 compute). */
export function f16Weights(m: OnnxModel): OnnxModel {
  const casts: OnnxNode[] = [];
  const inits = m.graph!.initializer!.map((t) => {
    if (t.dataType !== OnnxDataType.FLOAT || (t.dims ?? []).length !== 2) return t;
    const v = new Float32Array(new Uint8Array(t.rawData!).buffer);
    const h = Uint16Array.from(v, (x) => f32ToF16(x));
    casts.push({ opType: 'Cast', input: [`${t.name}__h`], output: [t.name!], attribute: [aI('to', OnnxDataType.FLOAT)] });
    return { name: `${t.name}__h`, dims: t.dims, dataType: OnnxDataType.FLOAT16, rawData: new Uint8Array(h.buffer) };
  });
  return { ...m, graph: { ...m.graph!, node: [...casts, ...m.graph!.node!], initializer: inits } };
}

/**
 * A GPT-2 graph in the style of Hugging Face Optimum's export (transformer.h.N scopes), written here
 * from a GPT-2 LoadedModel: token + position embeddings gathered by input_ids / position_ids, per block
 * LayerNormalization -> c_attn MatMul + bias -> Split into q, k, v -> heads (Reshape / Transpose) with
 * past_key_values concatenated -> QK^T / sqrt(D) + causal mask (Trilu) -> Softmax -> PV -> c_proj MatMul +
 * bias, residual Add; LayerNormalization -> c_fc MatMul + bias -> GELU (tanh form, decomposed:
 * 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))) -> c_proj MatMul + bias, residual Add; ln_f; lm_head
 * MatMul with an equal transposed copy of wte. Opset 17.
 */
export function gpt2Onnx(model: LoadedModel): OnnxModel {
  const s = model.spec;
  const { nLayers: L, dModel: C, nHeads: H, headDim: D, dFF: F, vocabSize: V } = s;
  const b = new Builder(false);
  const w = (n: string): Float32Array => tensorToF32(model.tensors.get(n)!);
  const inputs = [
    tensorValueInfo('input_ids', OnnxDataType.INT64, ['batch_size', 'sequence_length']),
    tensorValueInfo('attention_mask', OnnxDataType.INT64, ['batch_size', 'past_sequence_length + 1']),
    tensorValueInfo('position_ids', OnnxDataType.INT64, ['batch_size', 'sequence_length']),
  ];
  const outputs = [tensorValueInfo('logits', OnnxDataType.FLOAT, ['batch_size', 'sequence_length', V])];
  for (let l = 0; l < L; l++) {
    for (const kv of ['key', 'value']) {
      inputs.push(tensorValueInfo(`past_key_values.${l}.${kv}`, OnnxDataType.FLOAT, ['batch_size', H, 'past_sequence_length', D]));
      outputs.push(tensorValueInfo(`present.${l}.${kv}`, OnnxDataType.FLOAT, ['batch_size', H, 'past_sequence_length + 1', D]));
    }
  }
  const lin = (x: string, name: string, rows: number, cols: number, p: string): string => {
    const m = b.op('MatMul', [x, b.f32(`onnx::MatMul_${name}`, [cols, rows], transposeRM(w(name), rows, cols))], `${p}/MatMul`);
    return b.op('Add', [b.f32(`transformer.${name}.bias`, [rows], w(`${name}.bias`)), m], `${p}/Add`);
  };
  const ln = (x: string, name: string, p: string): string =>
    b.op('LayerNormalization', [x, b.f32(`${name}.weight`, [C], w(name)), b.f32(`${name}.bias`, [C], w(`${name}.bias`))], `${p}/LayerNormalization`, [aI('axis', -1), aF('epsilon', s.norm.eps)]);

  const wte = b.f32('transformer.wte.weight', [V, C], w('token_embd'));
  const tok = b.op('Gather', [wte, 'input_ids'], '/transformer/wte/Gather', [aI('axis', 0)]);
  const pos = b.op('Gather', [b.f32('transformer.wpe.weight', model.tensors.get('position_embd')!.shape, w('position_embd')), 'position_ids'], '/transformer/wpe/Gather', [aI('axis', 0)]);
  let x = b.op('Add', [tok, pos], '/transformer/Add');
  // mask [T, P+T]
  const one64 = b.i64('/transformer/one', [1], [1]);
  const zero64 = b.i64('/transformer/zero', [1], [0]);
  const Tlen = b.op('Shape', ['input_ids'], '/transformer/Shape', [aI('start', 1), aI('end', 2)]);
  const P = b.op('Shape', ['past_key_values.0.key'], '/transformer/Shape_1', [aI('start', 2), aI('end', 3)]);
  const shape = b.op('Concat', [Tlen, b.op('Add', [Tlen, P], '/transformer/Add_len')], '/transformer/Concat', [aI('axis', 0)]);
  const big = b.op('ConstantOfShape', [shape], '/transformer/ConstantOfShape', [{ name: 'value', type: 4, t: float32Tensor('v', [1], new Float32Array([-3.4e38])) }]);
  const mask = b.op('Trilu', [big, b.op('Squeeze', [b.op('Add', [P, one64], '/transformer/Add_k'), zero64], '/transformer/Squeeze')], '/transformer/Trilu', [aI('upper', 1)]);
  const perm = [aInts('perm', [0, 2, 1, 3])];
  for (let l = 0; l < L; l++) {
    const p = `/transformer/h.${l}`;
    const h1 = ln(x, `blk.${l}.attn_norm`, `${p}/ln_1`);
    const qkv = lin(h1, `blk.${l}.attn_qkv`, 3 * C, C, `${p}/attn/c_attn`);
    const [q, k, v] = ['q', 'k', 'v'].map((n) => b.tname(`${p}/attn/Split_output_${n}`));
    b.nodes.push({ opType: 'Split', input: [qkv, b.i64(`${p}/attn/split`, [3], [C, C, C])], output: [q, k, v], name: `${p}/attn/Split`, attribute: [aI('axis', 2)] });
    const heads = (t: string, n: string) => b.op('Transpose', [b.op('Reshape', [t, b.i64(`${p}/attn/shape_${n}`, [4], [0, 0, H, D])], `${p}/attn/Reshape_${n}`)], `${p}/attn/Transpose_${n}`, perm);
    const kh = b.op('Concat', [`past_key_values.${l}.key`, heads(k, 'k')], `${p}/attn/Concat_k`, [aI('axis', 2)]);
    const vh = b.op('Concat', [`past_key_values.${l}.value`, heads(v, 'v')], `${p}/attn/Concat_v`, [aI('axis', 2)]);
    b.nodes.push({ opType: 'Identity', input: [kh], output: [`present.${l}.key`], name: `${p}/attn/present_k` });
    b.nodes.push({ opType: 'Identity', input: [vh], output: [`present.${l}.value`], name: `${p}/attn/present_v` });
    const sc = b.op('Div', [b.op('MatMul', [heads(q, 'q'), b.op('Transpose', [kh], `${p}/attn/Transpose_kt`, [aInts('perm', [0, 1, 3, 2])])], `${p}/attn/MatMul`), b.scalar(`${p}/attn/sqrt_d`, Math.sqrt(D))], `${p}/attn/Div`);
    const pr = b.op('Softmax', [b.op('Add', [sc, mask], `${p}/attn/Add_mask`)], `${p}/attn/Softmax`, [aI('axis', -1)]);
    const ctx = b.op('Reshape', [b.op('Transpose', [b.op('MatMul', [pr, vh], `${p}/attn/MatMul_1`)], `${p}/attn/Transpose_o`, perm), b.i64(`${p}/attn/shape_o`, [3], [0, 0, C])], `${p}/attn/Reshape_o`);
    const mid = b.op('Add', [lin(ctx, `blk.${l}.attn_output`, C, C, `${p}/attn/c_proj`), x], `${p}/Add`);
    const h2 = ln(mid, `blk.${l}.ffn_norm`, `${p}/ln_2`);
    const u = lin(h2, `blk.${l}.ffn_up`, F, C, `${p}/mlp/c_fc`);
    const cube = b.op('Pow', [u, b.scalar(`${p}/mlp/three`, 3)], `${p}/mlp/act/Pow`);
    const inner = b.op('Mul', [b.op('Add', [u, b.op('Mul', [cube, b.scalar(`${p}/mlp/c`, 0.044715)], `${p}/mlp/act/Mul`)], `${p}/mlp/act/Add`), b.scalar(`${p}/mlp/k`, Math.sqrt(2 / Math.PI))], `${p}/mlp/act/Mul_1`);
    const g = b.op('Mul', [b.op('Mul', [u, b.scalar(`${p}/mlp/half`, 0.5)], `${p}/mlp/act/Mul_2`), b.op('Add', [b.op('Tanh', [inner], `${p}/mlp/act/Tanh`), b.scalar(`${p}/mlp/one`, 1)], `${p}/mlp/act/Add_1`)], `${p}/mlp/act/Mul_3`);
    x = b.op('Add', [mid, lin(g, `blk.${l}.ffn_down`, C, F, `${p}/mlp/c_proj`)], `${p}/Add_1`);
  }
  const hf = ln(x, 'output_norm', '/transformer/ln_f');
  b.nodes.push({ opType: 'MatMul', input: [hf, b.f32('onnx::MatMul_lm_head', [C, V], transposeRM(w('token_embd'), V, C))], output: ['logits'], name: '/lm_head/MatMul' });
  return {
    irVersion: 8,
    producerName: 'layerlab-test-gpt2-optimum-like',
    opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 'main_graph', node: b.nodes, initializer: b.inits, input: inputs, output: outputs },
  };
}
