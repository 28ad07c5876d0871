// The workbench state (DESIGN.md convention 7): plain, small, structuredClone-able data only: ids,
// configs, model summaries and small result arrays. Large tensors (weights, taps, logits) stay in the
// worker or in the action that uses them. No functions live in the state: the store is a vanilla
// zustand store of data, and every change goes through the small update helpers in updates.ts,
// called by src/actions (async user commands) and by the panels for plain field edits.

import { createStore } from 'zustand/vanilla';
import type { ModelInfo } from '../worker/api.ts';
import type { LayerScores } from '../core/metrics/types.ts';
import type { LensDetail } from '../core/analysis/lens-detail.ts';
import type { GroupProgressRow } from '../core/analysis/progress.ts';
import type { CatalogEntry } from './catalog.ts';
import { initialAllocationState, type AllocationState } from './allocation.ts';
import { initialCompareState, type CompareState } from './compare.ts';
import type { SweepResult } from '../worker/engine-allocation.ts';

/** An error as the page shows it: the loader's message, what to do about it, and when it happened. */
export interface UserError {
  message: string;
  hint?: string;
  code?: string;
  /** What the user was doing ("loading truncated.gguf"). */
  during: string;
}

export interface ProgressState {
  done: number;
  total: number;
  what: string;
}

export type JobKind = 'load' | 'generate' | 'nll' | 'importance' | 'sweep' | 'export' | 'allocate' | 'compare';

export type ThemeName = 'light' | 'dark';

export interface ModelState {
  status: 'idle' | 'loading' | 'ready' | 'error';
  info: ModelInfo | null;
  /** Counts successful loads; results carry the serial of the model that produced them. */
  serial: number;
  /** What the loaded model came from (catalog label, file names, repo id). */
  sourceLabel: string | null;
  /** Catalog key of the loaded model, when it came from the catalog. */
  sourceKey: string | null;
  /** The load in progress (the loaded model, if any, stays usable meanwhile). */
  loading: { label: string; progress: ProgressState | null } | null;
  /** The last load error (the previous model stays loaded). */
  error: UserError | null;
  catalog: CatalogEntry[];
  catalogError: string | null;
  hubRepo: string;
  hubFile: string;
}

export interface TokensState {
  ids: number[];
  pieces: string[];
  /** The text and model these tokens belong to. */
  text: string;
  modelSerial: number;
}

export interface CalibrationState {
  /** Preset id, or null for the user's own text. */
  presetId: string | null;
  text: string;
  /** File name when the text came from a file. */
  fileName: string | null;
  tokens: TokensState | null;
  tokenizing: boolean;
  error: string | null;
}

export interface GenerationState {
  prompt: string;
  maxTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  running: boolean;
  ids: number[];
  pieces: string[];
  /** Decoded text of the finished run (null while streaming). */
  text: string | null;
  startedAt: number | null;
  /** Live (while streaming) or final decode tokens per second. */
  tokensPerSecond: number | null;
  prefillTokensPerSecond: number | null;
  cancelled: boolean;
  error: UserError | null;
  modelSerial: number;
}

export interface NllResultState {
  meanNll: number;
  perplexity: number;
  scored: number;
  windows: number;
  tokenNll: number[];
  /** Index (in the text's token ids) of the token each tokenNll entry predicts. */
  positions: number[];
  tokens: number;
  text: string;
  modelSerial: number;
  seconds: number;
}

export interface NllState {
  running: boolean;
  progress: ProgressState | null;
  result: NllResultState | null;
  cancelled: boolean;
  error: UserError | null;
}

export interface ImportanceResultState {
  /** One LayerScores per metric, in the analysis' canonical order. */
  scores: LayerScores[];
  /** Spearman / Kendall rank correlation between the metrics (when asked for). */
  agreement: { ids: string[]; spearman: number[][]; kendall: number[][] } | null;
  /** Vocabulary pieces of the analysed tokens (the layers x tokens heatmap's columns). */
  pieces: string[];
  T: number;
  nLayers: number;
  /** The base model's mean NLL over the analysed tokens (nats). */
  baseNll: number;
  /** Milliseconds per phase, as the engine reports them. */
  timings: Record<string, number>;
  /** Logit-lens detail (top-k per block and position) when the lens group ran. */
  lens?: LensDetail | null;
  modelSerial: number;
  text: string;
  seconds: number;
}

export interface ImportanceState {
  running: boolean;
  progress: ProgressState | null;
  /** Per metric group: waiting / running with its steps / done in N ms (the last run's). */
  groups?: GroupProgressRow[];
  result: ImportanceResultState | null;
  error: UserError | null;
  cancelled: boolean;
  /** Metric groups to run (engine.analyze names: cos, lim, contrib, cka, lens, zd, weights, ablation, quant, agreement). */
  metrics: string[];
  /** Max tokens to analyse (the first N tokens of the calibration text). */
  maxTokens: number;
  /** Metric whose per-token scores the layers x tokens heatmap shows. */
  tokenMetric: string;
}

/** One finished sweep (src/actions/experiments.ts): the engine's curves, on which model and text. */
export interface SweepRunState {
  result: SweepResult;
  modelSerial: number;
  seconds: number;
}

/** The Experiments panel: Layer-Wise Quantization format sweeps and LLM-Drop drop sweeps. */
export interface ExperimentsState {
  running: 'format' | 'drop' | null;
  progress: ProgressState | null;
  error: UserError | null;
  cancelled: boolean;
  /** Metric whose order the sweeps follow (an analysis metric id, e.g. cos). */
  metric: string;
  from: string;
  to: string;
  step: number;
  seeds: number[];
  maxTokens: number;
  format: SweepRunState | null;
  drop: SweepRunState | null;
}

/** Guided lesson mode (src/lessons): the open lesson and its step. */
export interface LessonState {
  id: string | null;
  step: number;
}

/** What a share link in the URL did on open (src/app/share.ts): its error, or what it restored. */
export interface ShareState {
  error: UserError | null;
  restored: { model: string; preset: string | null; allocation: boolean } | null;
  /** An allocation from a share link, validated against the loaded model (plain JSON). */
  allocation: unknown;
}

export interface UiState {
  theme: ThemeName;
  /** The user chose the theme (otherwise it follows prefers-color-scheme). */
  themeChosen: boolean;
}

export interface WorkbenchState {
  model: ModelState;
  calibration: CalibrationState;
  generation: GenerationState;
  nll: NllState;
  importance: ImportanceState;
  /** The Allocation panel (src/store/allocation.ts). */
  allocation: AllocationState;
  /** The Compare panel (src/store/compare.ts). */
  compare: CompareState;
  ui: UiState;
  experiments: ExperimentsState;
  lesson: LessonState;
  share: ShareState;
  /** The engine job running now (one at a time; the page stays responsive). */
  job: { kind: JobKind; label: string } | null;
}

/** The metric groups the first screen runs: everything that needs no extra forward passes. */
export const DEFAULT_IMPORTANCE_METRICS = ['cos', 'lim', 'contrib', 'cka', 'lens', 'zd', 'weights', 'agreement'];

export function initialState(opts: { theme?: ThemeName; calibrationText?: string; presetId?: string | null; prompt?: string } = {}): WorkbenchState {
  return {
    model: {
      status: 'idle',
      info: null,
      serial: 0,
      sourceLabel: null,
      sourceKey: null,
      loading: null,
      error: null,
      catalog: [],
      catalogError: null,
      hubRepo: '',
      hubFile: '',
    },
    calibration: { presetId: opts.presetId ?? null, text: opts.calibrationText ?? '', fileName: null, tokens: null, tokenizing: false, error: null },
    generation: {
      prompt: opts.prompt ?? 'Once upon a time',
      maxTokens: 32,
      temperature: 0,
      topK: 0,
      topP: 1,
      seed: 42,
      running: false,
      ids: [],
      pieces: [],
      text: null,
      startedAt: null,
      tokensPerSecond: null,
      prefillTokensPerSecond: null,
      cancelled: false,
      error: null,
      modelSerial: 0,
    },
    nll: { running: false, progress: null, result: null, cancelled: false, error: null },
    importance: {
      running: false,
      progress: null,
      result: null,
      error: null,
      cancelled: false,
      metrics: [...DEFAULT_IMPORTANCE_METRICS],
      maxTokens: 128,
      tokenMetric: 'cos',
    },
    allocation: initialAllocationState(),
    compare: initialCompareState(),
    ui: { theme: opts.theme ?? 'light', themeChosen: false },
    experiments: {
      running: null, progress: null, error: null, cancelled: false,
      metric: 'cos', from: 'Q8_0', to: 'int2-g32-asym', step: 20, seeds: [0, 1, 2], maxTokens: 128, format: null, drop: null,
    },
    lesson: { id: null, step: 0 },
    share: { error: null, restored: null, allocation: null },
    job: null,
  };
}

export type WorkbenchStore = ReturnType<typeof createWorkbenchStore>;

export function createWorkbenchStore(init: WorkbenchState = initialState()) {
  return createStore<WorkbenchState>()(() => init);
}

/** The page's one store. */
export const workbench = createWorkbenchStore();
