// The Compare panel's slice: the settings of a comparison run (evaluation text, prompt, seed, lengths)
// and the kept runs, each a named plan with its comparison of the modified model against the original
// (engine.compare, src/worker/engine-allocation.ts: the same numbers as `layerlab compare`). Plain data
// only (small arrays: per-token KL of at most a few hundred tokens).

import type { StoreApi } from 'zustand/vanilla';
import type { Allocation } from '../core/allocation/schema.ts';
import type { ProgressState, UserError, WorkbenchState } from './state.ts';

export interface CompareSideState {
  meanNll: number;
  ppl: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
}

export interface CompareGenSide {
  ids: number[];
  pieces: string[];
  text: string;
}

export interface CompareRun {
  id: string;
  name: string;
  allocation: Allocation;
  modelSerial: number;
  /** The evaluation text and its token pieces (the per-token KL heatmap's columns). */
  text: string;
  pieces: string[];
  tokens: number;
  scored: number;
  base: CompareSideState;
  modified: CompareSideState;
  nllDiff: number;
  kl: number;
  klPerToken: number[];
  top1: number;
  top1PerToken: boolean[];
  size: {
    residentBytes: number; baseResidentBytes: number; bitsPerWeight: number; matrixBitsPerWeight: number; droppedBytes: number;
    /** K/V cache bits per token position, packed at the plan's bits (apply-weights.ts SizeReport; absent in runs kept before it was recorded). */
    kvCacheBitsPerToken?: number; baseKvCacheBitsPerToken?: number;
  } | null;
  chunked: { ctx: number; chunks: number; base: { perplexity: number; nllStdErr: number }; modified: { perplexity: number; nllStdErr: number } } | null;
  generation: { prompt: string; seed: number; base: CompareGenSide; modified: CompareGenSide; firstDivergence: number | null } | null;
  fallbacks: { name: string; from: string; to: string; reason: string }[];
  drops: string[];
  seconds: number;
}

export interface CompareState {
  /** Name given to the next run ('' = a name from the plan). */
  name: string;
  /** Evaluate on the calibration text (true) or on `text`. */
  useCalibration: boolean;
  text: string;
  /** First N tokens of the evaluation text. */
  maxTokens: number;
  /** Chunked perplexity context (0 = off). */
  ctx: number;
  prompt: string;
  genTokens: number;
  temperature: number;
  seed: number;
  runs: CompareRun[];
  /** The run shown in detail. */
  selected: string | null;
  running: boolean;
  progress: ProgressState | null;
  error: UserError | null;
  cancelled: boolean;
}

export const MAX_RUNS = 12;

export function initialCompareState(): CompareState {
  return {
    name: '',
    useCalibration: true,
    text: '',
    maxTokens: 64,
    ctx: 0,
    prompt: 'Once upon a time',
    genTokens: 24,
    temperature: 0,
    seed: 42,
    runs: [],
    selected: null,
    running: false,
    progress: null,
    error: null,
    cancelled: false,
  };
}

type Api = StoreApi<WorkbenchState>;

export function patchCompare(s: Api, p: Partial<CompareState>): void {
  s.setState((st) => ({ compare: { ...st.compare, ...p } }));
}

/** A name for a run: the given one, else the plan's strategy, made unique among the kept runs ("uniform Q8_0", "uniform Q8_0 (2)"). */
export function runName(runs: readonly { name: string }[], given: string, plan: Allocation): string {
  let base = given.trim();
  if (!base) {
    const s = plan.strategy ?? {};
    const parts = [typeof s.name === 'string' ? s.name : 'plan', typeof s.format === 'string' ? s.format : '', typeof s.metric === 'string' ? `by ${s.metric}` : '', s.edited === true ? '(edited)' : ''];
    base = parts.filter(Boolean).join(' ');
  }
  const names = new Set(runs.map((r) => r.name));
  if (!names.has(base)) return base;
  for (let i = 2; ; i++) if (!names.has(`${base} (${i})`)) return `${base} (${i})`;
}

/** Keeps a finished run (newest last, at most MAX_RUNS: the oldest goes) and selects it. */
export function addRun(s: Api, run: CompareRun): void {
  s.setState((st) => ({ compare: { ...st.compare, runs: [...st.compare.runs, run].slice(-MAX_RUNS), selected: run.id, name: '' } }));
}

export function removeRun(s: Api, id: string): void {
  s.setState((st) => {
    const runs = st.compare.runs.filter((r) => r.id !== id);
    const selected = st.compare.selected === id ? (runs[runs.length - 1]?.id ?? null) : st.compare.selected;
    return { compare: { ...st.compare, runs, selected } };
  });
}

export function renameRun(s: Api, id: string, name: string): void {
  s.setState((st) => ({ compare: { ...st.compare, runs: st.compare.runs.map((r) => (r.id === id ? { ...r, name: name.trim() || r.name } : r)) } }));
}

/** The kept runs as points of KL(original || modified) against stored bits per weight (runs without a size are left out). */
export function klVsBitsPoints(runs: readonly CompareRun[]): { name: string; x: number; y: number }[] {
  return runs.filter((r) => r.size !== null && Number.isFinite(r.size.matrixBitsPerWeight) && Number.isFinite(r.kl)).map((r) => ({ name: r.name, x: r.size!.matrixBitsPerWeight, y: r.kl }));
}

/** Splits generated pieces at the first divergence: [same, the first differing piece, the rest]; null divergence: everything is `same`. */
export function splitAtDivergence(pieces: readonly string[], at: number | null): { same: string[]; diverged: string | null; rest: string[] } {
  if (at === null || at >= pieces.length) return { same: pieces.slice(), diverged: null, rest: [] };
  return { same: pieces.slice(0, at), diverged: pieces[at], rest: pieces.slice(at + 1) };
}
