// ModelSpec: everything the forward pass needs to know about a model's shape, independent of the
// file format it came from. Loaders (src/core/formats) fill it; the CPU reference forward
// (src/core/model/forward.ts) and the GPU forward (src/gpu/forward.ts) read it.

export type Architecture = 'llama' | 'gpt2';

export interface ModelSpec {
  /** Architecture family the forward implements. */
  arch: Architecture;
  /** Human-readable name (general.name, file stem or repo id). */
  name: string;
  nLayers: number;
  /** Residual width C. */
  dModel: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  /** Hidden width of the MLP. */
  dFF: number;
  vocabSize: number;
  /** Maximum positions the model supports (for learned positions: the table's length). */
  contextLength: number;
  norm: { kind: 'rms' | 'layer'; eps: number };
  /**
   * Rotary embedding. 'adjacent': pairs (2i, 2i+1) rotate together (GGUF / llama.cpp LLAMA, llama2.c).
   * 'half': pairs (i, i + d/2) rotate together (Hugging Face rotate_half, GGUF NEOX). 'none': no RoPE.
   */
  rope: { kind: 'adjacent' | 'half' | 'none'; theta: number; dim: number };
  /** Learned absolute position embeddings (GPT-2: `position_embd`). */
  learnedPositions: boolean;
  /** MLP: 'silu-gate' = down(silu(gate(x)) * up(x)); 'gelu' = down(gelu_tanh(up(x) + b) ) + b. */
  mlp: 'silu-gate' | 'gelu';
  /** `output` shares the token embedding (no separate output tensor). */
  tiedEmbeddings: boolean;
  /** Q, K and V projections carry biases (Qwen2, GPT-2). */
  qkvBias: boolean;
  /** Output projection, MLP projections and norms carry biases (GPT-2). */
  linearBias: boolean;
  /** GPT-2 stores Q, K, V as one fused matrix `blk.N.attn_qkv` [3C, C]. */
  fusedQkv: boolean;
  bosId: number | null;
  eosId: number | null;
  /** Whether the model's tokenizer prepends BOS by default. */
  addBos: boolean;
}

export function describeSpec(s: ModelSpec): string {
  return `${s.arch} ${s.name}: ${s.nLayers} layers, d=${s.dModel}, heads=${s.nHeads}/${s.nKvHeads} (head dim ${s.headDim}), ff=${s.dFF}, vocab=${s.vocabSize}, ctx=${s.contextLength}`;
}

/** Checks a run of token ids at positions pos0.. against the vocabulary and the room left (maxT); `what` names the caller in the message (forward, gradients). */
export function checkIds(spec: ModelSpec, ids: readonly number[], pos0 = 0, maxT = Infinity, what = 'forward'): void {
  if (ids.length === 0) throw new Error(`${what}: no tokens to run`);
  if (pos0 + ids.length > maxT) throw new Error(`${what}: ${pos0 + ids.length} positions exceed the cache/context of ${maxT}`);
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= spec.vocabSize) throw new Error(`token id ${id} outside the vocabulary (size ${spec.vocabSize})`);
  }
}
