// Shared by the model loaders (gguf.ts, llama2c.ts, safetensors.ts): loader options, the table of
// canonical tensors a ModelSpec requires (names and row-major shapes), the check that a loaded tensor
// set matches it, the context-length override and the tokenizer/vocabulary agreement check.

import type { ModelSpec } from '../model/spec.ts';
import { ENGINE_TYPES, typeName } from '../quant/types.ts';
import { LoadError } from './errors.ts';
import type { Tokenizer } from './tokenizer.ts';
import type { LoadedModel, WeightTensor } from './types.ts';

export interface LoaderOptions {
  /** Override the context length the file states (e.g. 512 for stories260K.gguf, which stores 128). */
  contextLength?: number;
  /** Use this tokenizer instead of the one the files describe. */
  tokenizer?: Tokenizer;
  /** Model name when the file has none (a file stem or a repo id). */
  name?: string;
}

const fmtShape = (s: readonly number[]): string => `[${s.join(', ')}]`;

/**
 * The canonical tensors `spec` needs, with their row-major shapes ([out, in] for matrices, [n] for
 * vectors). `positionRows` is the length of the learned position table (GPT-2) if any.
 */
export function expectedTensors(spec: ModelSpec, positionRows = spec.contextLength): Map<string, number[]> {
  const C = spec.dModel;
  const V = spec.vocabSize;
  const F = spec.dFF;
  const qDim = spec.nHeads * spec.headDim;
  const kvDim = spec.nKvHeads * spec.headDim;
  const m = new Map<string, number[]>();
  const norm = (name: string): void => {
    m.set(name, [C]);
    if (spec.norm.kind === 'layer') m.set(`${name}.bias`, [C]);
  };
  const linear = (name: string, out: number, inp: number, bias: boolean): void => {
    m.set(name, [out, inp]);
    if (bias) m.set(`${name}.bias`, [out]);
  };
  m.set('token_embd', [V, C]);
  if (spec.learnedPositions) m.set('position_embd', [positionRows, C]);
  for (let l = 0; l < spec.nLayers; l++) {
    const b = `blk.${l}.`;
    norm(`${b}attn_norm`);
    if (spec.fusedQkv) {
      linear(`${b}attn_qkv`, qDim + 2 * kvDim, C, spec.qkvBias);
    } else {
      linear(`${b}attn_q`, qDim, C, spec.qkvBias);
      linear(`${b}attn_k`, kvDim, C, spec.qkvBias);
      linear(`${b}attn_v`, kvDim, C, spec.qkvBias);
    }
    linear(`${b}attn_output`, C, qDim, spec.linearBias);
    norm(`${b}ffn_norm`);
    if (spec.mlp === 'silu-gate') linear(`${b}ffn_gate`, F, C, spec.linearBias);
    linear(`${b}ffn_up`, F, C, spec.linearBias);
    linear(`${b}ffn_down`, C, F, spec.linearBias);
  }
  norm('output_norm');
  if (!spec.tiedEmbeddings) m.set('output', [V, C]);
  return m;
}

/** Short summary of the hyperparameters for shape errors. */
function hparamSummary(spec: ModelSpec): string {
  return `d_model ${spec.dModel}, layers ${spec.nLayers}, heads ${spec.nHeads}/${spec.nKvHeads} x ${spec.headDim}, d_ff ${spec.dFF}, vocab ${spec.vocabSize}`;
}

/**
 * Checks that `tensors` (canonical names) holds every tensor `spec` needs with the right shape and an
 * engine-supported type; returns the map restricted to those tensors in canonical order.
 * `source` names the file for messages; `extra` lists names present but not needed.
 */
export function checkTensors(
  spec: ModelSpec,
  tensors: Map<string, WeightTensor>,
  source: string,
  positionRows?: number,
): { tensors: Map<string, WeightTensor>; extra: string[] } {
  const want = expectedTensors(spec, positionRows);
  const out = new Map<string, WeightTensor>();
  for (const [name, shape] of want) {
    const t = tensors.get(name);
    if (!t) {
      throw new LoadError(
        'missing-tensor',
        `${source}: required tensor "${name}" (shape ${fmtShape(shape)}) is missing`,
        'The file is incomplete or is not a model of the stated architecture; check that all shards/files were given.',
      );
    }
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new LoadError(
        'bad-shape',
        `${source}: tensor "${name}" has shape ${fmtShape(t.shape)} but the hyperparameters (${hparamSummary(spec)}) require ${fmtShape(shape)}`,
        'The configuration and the weights disagree: check that config/metadata and weights belong to the same model.',
      );
    }
    if (!ENGINE_TYPES.includes(t.type)) {
      throw new LoadError(
        'unsupported-type',
        `${source}: tensor "${name}" is stored as ${typeName(t.type)}, which this engine cannot compute with ` +
          `(supported: ${ENGINE_TYPES.map((x) => typeName(x)).join(', ')})`,
        'Re-quantize the model to one of the supported types (e.g. Q8_0, Q4_K, F16) with llama.cpp.',
      );
    }
    out.set(name, t);
  }
  const extra = [...tensors.keys()].filter((k) => !want.has(k));
  return { tensors: out, extra };
}

/** The error for tensors present in the file that the spec does not use (more blocks than stated, or an unknown part). */
export function extraTensorsError(extra: string[], spec: ModelSpec, source: string, what: string): LoadError {
  let maxBlk = -1;
  for (const n of extra) {
    const m = /^blk\.(\d+)\./.exec(n);
    if (m) maxBlk = Math.max(maxBlk, Number(m[1]));
  }
  if (maxBlk >= spec.nLayers) {
    return new LoadError(
      'bad-shape',
      `${source}: the weights have ${maxBlk + 1} blocks but ${what} says ${spec.nLayers} layers`,
      'The configuration and the weights disagree: check that config/metadata and weights belong to the same model.',
    );
  }
  const list = extra.slice(0, 5).join(', ') + (extra.length > 5 ? ` and ${extra.length - 5} more` : '');
  return new LoadError(
    'unsupported-feature',
    `${source}: the ${spec.arch} model has tensors this engine does not use: ${list}`,
    'Ignoring them would compute a different model; this variant is not supported.',
  );
}

/** Applies `opts.contextLength` (a positive integer; for learned positions at most the table length). */
export function applyContextLength(spec: ModelSpec, opts: LoaderOptions | undefined, source: string): void {
  const c = opts?.contextLength;
  if (c === undefined) return;
  if (!Number.isInteger(c) || c <= 0) {
    throw new LoadError('bad-metadata', `${source}: contextLength override ${c} is not a positive integer`, 'Pass a positive whole number of tokens.');
  }
  if (spec.learnedPositions && c > spec.contextLength) {
    throw new LoadError(
      'bad-metadata',
      `${source}: contextLength ${c} exceeds the ${spec.contextLength} learned positions of this model`,
      `Use a context of at most ${spec.contextLength} tokens.`,
    );
  }
  spec.contextLength = c;
}

/** Runs a tokenizer constructor, turning its failures into LoadErrors. */
export function buildTokenizer(what: string, make: () => Tokenizer): Tokenizer {
  try {
    return make();
  } catch (e) {
    if (e instanceof LoadError) throw e;
    throw new LoadError(
      'tokenizer',
      `${what}: could not build the tokenizer: ${e instanceof Error ? e.message : String(e)}`,
      'The tokenizer data is damaged or of an unsupported kind; pass a tokenizer explicitly if you have one.',
      { cause: e },
    );
  }
}

/** The tokenizer must not produce ids past the embedding table. */
export function checkTokenizer(spec: ModelSpec, tok: Tokenizer, source: string): void {
  if (tok.vocabSize > spec.vocabSize) {
    throw new LoadError(
      'tokenizer',
      `${source}: the tokenizer has ${tok.vocabSize} tokens but the model's embedding has only ${spec.vocabSize} rows`,
      'The tokenizer belongs to a different model: give the tokenizer file that came with these weights.',
    );
  }
}

/** Integer metadata check used by all loaders. */
export function positiveInt(v: unknown, key: string, source: string, allowZero = false): number {
  if (typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER)) v = Number(v);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < (allowZero ? 0 : 1)) {
    throw new LoadError(
      'bad-metadata',
      `${source}: "${key}" should be a ${allowZero ? 'non-negative' : 'positive'} integer but is ${describeValue(v)}`,
      'The model metadata/config is damaged or from an unsupported variant.',
    );
  }
  return v;
}

export function finiteNumber(v: unknown, key: string, source: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new LoadError('bad-metadata', `${source}: "${key}" should be a number but is ${describeValue(v)}`, 'The model metadata/config is damaged or from an unsupported variant.');
  }
  return v;
}

export function describeValue(v: unknown): string {
  if (v === undefined) return 'missing';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  return String(v);
}

/** Sum of the stored bytes of all weights: what the model takes in memory (GPU or CPU) before activations. */
export function estimateResidentBytes(model: LoadedModel): number {
  let n = 0;
  for (const t of model.tensors.values()) n += t.data.byteLength;
  return n;
}

