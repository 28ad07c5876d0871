// Types of a layer-importance analysis run (src/core/analysis/analyze.ts): the request (plain data, what
// the worker API and the CLI pass), the options that only an in-process caller can give (functions:
// backend factory, progress, cancel), and the result (plain data: survives structuredClone and JSON).

import type { Backend } from '../model/backend.ts';
import type { LoadedModel } from '../formats/types.ts';
import type { CancelToken } from '../eval/perplexity.ts';
import type { Agreement, LayerScores } from '../metrics/index.ts';
import type { LensDetail } from './lens-detail.ts';
import type { ActivationScanner, WeightScanner } from './scans.ts';

/** Metric groups a caller asks for (the CLI's --metrics names). */
export type AnalysisMetricName = 'cos' | 'lim' | 'zd' | 'contrib' | 'cka' | 'weights' | 'ablation' | 'quant' | 'lens' | 'taylor' | 'fisher' | 'zo' | 'agreement';

export interface AnalyzeRequest {
  /** Calibration texts, tokenized with the model's tokenizer (BOS per `addBos`) ... */
  texts?: string[];
  /** ... or token ids per text (used as given; `addBos` ignored). */
  ids?: number[][];
  /** Metric groups (AnalysisMetricName) or 'all'. 'taylor' and 'zo' use residGrad, 'fisher' weightGradSq (the GPU backward on Llama and GPT-2 graphs) when given, else the CPU. */
  metrics: string[];
  /** Prepend BOS (default: the tokenizer's own default). */
  addBos?: boolean;
  /** Cut every text to this many tokens (default and maximum: the model's context length). */
  maxTokens?: number;
  /** Magnitude-outlier factor k of the weight statistics (|w| > k mean|w|; default 5). */
  outlierK?: number;
  /** OWL's M (Wanda score > M x mean; default 5). */
  owlM?: number;
  /** Plain intN bit widths for quantization sensitivity (default 8, 6, 4, 3, 2). */
  bits?: number[];
  /** GGUF block formats for quantization sensitivity (default Q8_0, Q6_K, Q5_0, Q4_K, Q4_0, Q3_K, Q2_K). */
  formats?: string[];
  /** Which plain bit width gives the quant metric's per-block value (default 4 when measured). */
  refBits?: number;
  /** Logit lens: top-k tokens per block and position (default 5). */
  lensTopK?: number;
  /** Zeroth-order estimate (zo): relative scale step eps of the two forwards (default 1e-2). */
  zoEps?: number;
}

export interface AnalyzeOptions extends AnalyzeRequest {
  /** Builds a backend for a modified model (quantization sensitivity); disposed after each use. */
  makeBackend?: (model: LoadedModel) => Backend | Promise<Backend>;
  /** Final norm + unembedding [T, C] -> [T, V] for the logit lens (default: the CPU reference's). */
  unembed?: (h: Float32Array, T: number) => Float32Array;
  /**
   * Runs the taps scans of cos, lim, contrib and cka (per-token sums, CKA Gram sums) somewhere else (the
   * GPU: src/gpu/analysis-scans.ts) instead of the CPU loops of the metric modules; same report fields.
   */
  activationScanner?: ActivationScanner;
  /** Runs the weight reductions of zd and weights (not erank: its SVD stays on the CPU) somewhere else. */
  weightScanner?: WeightScanner;
  progress?: (done: number, total: number, what: string) => void;
  cancel?: CancelToken;
  /**
   * dL/dh of the residual stream for one text's plain forward (no interventions; positions 0..T-1), L the
   * mean next-token cross-entropy over that text's T - 1 targets: `resid` holds blk.l.in / blk.l.mid /
   * blk.l.out, [T, C] each. Used for taylor (and zo's exact terms) instead of the CPU GradModel
   * (extra.gradientBackend = 'gpu'); null = not supported for this model -> CPU.
   */
  residGrad?: (model: LoadedModel, ids: number[]) => Promise<{ loss: number; resid: Record<string, ArrayLike<number>> } | null>;
  /**
   * Per tensor sum_i (dL/dw_i)^2 for one text's plain forward (L its own mean next-token cross-entropy;
   * canonical tensor names, every tensor that gets a gradient). Used for fisher instead of the CPU
   * GradModel (extra.gradientBackend = 'gpu'); null = not supported for this model -> CPU.
   */
  weightGradSq?: (model: LoadedModel, ids: number[]) => Promise<Record<string, number> | null>;
}

export interface CalibrationFacts {
  texts: number;
  /** Tokens over all texts (after truncation). */
  tokens: number;
  tokensPerText: number[];
  /** Offset of each text in the concatenated token axis of perToken matrices. */
  textStarts: number[];
  /** Token ids and vocabulary pieces per text. */
  ids: number[][];
  pieces: string[][];
  /** null when ids were given directly. */
  addBos: boolean | null;
  /** Texts cut to maxTokens: index and original length. */
  truncated: { text: number; tokens: number }[];
  maxTokens: number;
  /** Tokens with a next-token target (sum of T_i - 1) and the base model's mean NLL over them (nats). */
  scored: number;
  baseNll: number;
}

export interface AnalysisResult {
  model: { name: string; arch: string; nLayers: number; dModel: number; vocabSize: number };
  calibration: CalibrationFacts;
  /** One LayerScores per metric, in the order of ANALYSIS_ORDER. */
  scores: LayerScores[];
  /** Spearman / Kendall between every pair of the metrics above (when 'agreement' was asked for). */
  agreement: Agreement | null;
  /** Logit lens detail (when 'lens' was asked for). */
  lens: LensDetail | null;
  /** Where the Wanda input norms of attn_output / ffn_down came from (when 'weights' was asked for). */
  activationSource: { fromTaps: number; recomputed: number } | null;
  /** Effective options (defaults filled in). */
  options: { metrics: AnalysisMetricName[]; outlierK: number; owlM: number; bits: number[]; formats: string[]; refBits: number | null; lensTopK: number };
  /** Milliseconds per phase: 'forward' (calibration forwards with taps), 'activations', each metric group, 'total'. */
  timings: Record<string, number>;
  /** Where each taps / weight metric's heavy scan ran, by metric id ('cpu' or the scanner's backend, e.g. 'gpu'; erank is always 'cpu'). */
  scanBackends?: Record<string, string>;
}
