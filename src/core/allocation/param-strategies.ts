// The strategies that take a parameter-ratio budget or mixed rank / drop knobs, as one entry point for the
// CLI (`layerlab allocate`) and the worker API (param-budget.ts holds the rules, solve.ts the solver):
//   drank: budget params=R; ranks from the effective rank of every block matrix (metric 'erank' of the
//          'weights' analysis), D-Rank-style;
//   owl:   budget params=R [lambda, sparsity method wanda | magnitude]; per-block sparsity from the OWL
//          outlier ratios (metric 'owl' of 'weights', which needs the calibration text's activations);
//          method 2:4: the blocks with the fewest outliers take 2:4 until the budget holds (owl-nm.ts);
//   solve with params=R, rank options or drop kinds: one exact knapsack over keep / formats / drops / rank
//          options, damages measured on the text ('quant', 'ablation', measureRankSensitivity).
// Budget spec: comma-separated bpw=X | bytes=N | params=R (one of them) and drop-blocks=N.

import type { Backend } from '../model/backend.ts';
import type { LoadedModel } from '../formats/types.ts';
import type { LayerScores } from '../metrics/types.ts';
import { parseWeightFormat, type Allocation, type DropKind, type SparsityMethod } from './schema.ts';
import { blockProblem, sensitivityFromAnalysis, solutionToAllocation, solveExact, type BlockProblemOptions, type SensitivityTable } from './solve.ts';
import { drankAllocation, measureRankSensitivity, owlAllocation } from './param-budget.ts';
import { owlNmAllocation } from './owl-nm.ts';

export interface ParamsBudget {
  bitsPerWeight?: number;
  bytes?: number;
  /** Ratio of the blocks' linear-weight parameters to keep, (0, 1]. */
  params?: number;
  dropBlocks?: number;
}

/** Parses "bpw=X,bytes=N,params=R,drop-blocks=N" (one of bpw / bytes / params). */
export function parseParamsBudget(s: string, usage: (m: string) => Error = (m) => new Error(m)): ParamsBudget {
  const out: ParamsBudget = {};
  for (const part of s.split(',').map((x) => x.trim()).filter(Boolean)) {
    const m = /^(bpw|bytes|params|drop-blocks)=([0-9.eE+]+)$/.exec(part);
    const v = m ? Number(m[2]) : NaN;
    if (!m || !Number.isFinite(v) || v < 0) throw usage(`--budget: "${part}" is not bpw=X, bytes=N, params=R or drop-blocks=N`);
    if (m[1] === 'bpw') out.bitsPerWeight = v;
    else if (m[1] === 'params') {
      if (!(v > 0 && v <= 1)) throw usage(`--budget: params=R keeps a ratio R of the parameters, in (0, 1]; got ${m[2]}`);
      out.params = v;
    } else if (!Number.isInteger(v)) throw usage(`--budget: ${m[1]} must be an integer, got ${m[2]}`);
    else if (m[1] === 'bytes') out.bytes = v;
    else out.dropBlocks = v;
  }
  if ([out.bitsPerWeight, out.bytes, out.params].filter((x) => x !== undefined).length > 1) throw usage('--budget: give one of bpw=X, bytes=N, params=R');
  return out;
}

export interface ParamsStrategyHost {
  model: LoadedModel;
  backend: Backend;
  /** A backend of the loaded model's kind for a modified model; the caller disposes it. */
  backendFor(m: LoadedModel): Promise<Backend>;
  /** Runs an analysis of the calibration text with these metrics (and candidate formats for 'quant'). */
  analyze(metrics: string[], formats?: string[]): Promise<{ scores: LayerScores[] }>;
  /** Token ids of the calibration text (for the rank sensitivities). */
  ids(): number[];
  usage?: (m: string) => Error;
}

export interface ParamsStrategyRequest {
  strategy: string;
  /** Budget spec (parseParamsBudget). */
  budget?: string;
  /** Rank options, comma-separated fractions of the break-even rank ("0.25,0.5"). */
  ranks?: string;
  /** Drop kinds offered to the solver ("attn,mlp,block"). */
  drop?: string;
  /** Candidate formats for the solver (default: none under params=R, the GGUF ladder otherwise). */
  formats?: string;
  /** owl: lambda (default 0.08) and method (default wanda; 2:4 per block in OWL order, owl-nm.ts). */
  lambda?: number;
  sparsityMethod?: string;
}

/** True when the request is for allocateParamsStrategy (drank, owl, or solve with params / ranks / drops). */
export function wantsParamsStrategy(r: ParamsStrategyRequest): boolean {
  const withParams = r.budget !== undefined && /(^|,)\s*params=/.test(r.budget);
  return r.strategy === 'drank' || r.strategy === 'owl' || (r.strategy === 'solve' && (withParams || r.ranks !== undefined || r.drop !== undefined));
}

export async function allocateParamsStrategy(h: ParamsStrategyHost, r: ParamsStrategyRequest): Promise<{ allocation: Allocation; scoresUsed: string }> {
  const usage = h.usage ?? ((m: string) => new Error(m));
  const budget = parseParamsBudget(r.budget ?? '', usage);
  const spec = h.model.spec;
  if (r.strategy === 'drank' || r.strategy === 'owl') {
    if (budget.params === undefined) throw usage(`--strategy ${r.strategy} needs --budget params=R (the ratio of the blocks' linear-weight parameters to keep)`);
    const scores = (await h.analyze(['weights'])).scores;
    if (r.strategy === 'drank') {
      const s = scores.find((x) => x.metricId === 'erank');
      if (!s?.perTensor) throw new Error('the analysis returned no per-tensor effective ranks (metric erank)');
      return { allocation: drankAllocation(spec, s.perTensor, budget.params).allocation, scoresUsed: 'erank' };
    }
    const method = (r.sparsityMethod ?? 'wanda') as SparsityMethod;
    if (method !== 'wanda' && method !== 'magnitude' && method !== '2:4') throw usage(`--sparsity-method must be wanda, magnitude or 2:4, got "${method}"`);
    const s = scores.find((x) => x.metricId === 'owl');
    if (!s) throw new Error('the analysis returned no OWL outlier ratios (metric owl)');
    // 2:4 has a fixed ratio: OWL's order decides which blocks take it (owl-nm.ts)
    if (method === '2:4') return { allocation: owlNmAllocation(spec, s.perBlock, budget.params).allocation, scoresUsed: 'owl' };
    return { allocation: owlAllocation(spec, s.perBlock, budget.params, { lambda: r.lambda, method }).allocation, scoresUsed: 'owl' };
  }
  if (r.strategy !== 'solve') throw usage(`strategy "${r.strategy}" does not take a params budget (drank, owl or solve do)`);
  if (budget.bitsPerWeight === undefined && budget.bytes === undefined && budget.params === undefined) throw usage('--strategy solve needs --budget bpw=X, bytes=N or params=R');
  const formats = (r.formats ?? (budget.params !== undefined ? '' : 'Q8_0,Q6_K,Q5_0,Q4_K,Q4_0,Q3_K,Q2_K')).split(',').map((x) => x.trim().toUpperCase()).filter(Boolean);
  for (const f of formats) if (!parseWeightFormat(f)) throw usage(`--formats: unknown weight format "${f}"`);
  const ranks = (r.ranks ?? '').split(',').map((x) => x.trim()).filter(Boolean).map(Number);
  for (const f of ranks) if (!(f > 0 && f <= 1)) throw usage(`--ranks: fractions of each matrix's break-even rank in (0, 1], got "${r.ranks}"`);
  const drops = (r.drop ?? (budget.dropBlocks ? 'block' : '')).split(',').map((x) => x.trim()).filter(Boolean) as DropKind[];
  for (const d of drops) if (!['block', 'attn', 'mlp'].includes(d)) throw usage(`--drop must list block, attn, mlp; got "${r.drop}"`);
  const metrics = [...(formats.length ? ['quant'] : []), ...(drops.length ? ['ablation'] : [])];
  const table: SensitivityTable = metrics.length ? sensitivityFromAnalysis(await h.analyze(metrics, formats.length ? formats : undefined)) : { formats: {} };
  if (ranks.length) table.rank = await measureRankSensitivity(h.backend, h.model, (m) => h.backendFor(m), h.ids(), ranks);
  const o: BlockProblemOptions = {
    formats: formats.filter((f) => table.formats[f]),
    ranks,
    drops,
    keep: true,
    budget: budget.params !== undefined ? { params: budget.params } : budget.bitsPerWeight !== undefined ? { bitsPerWeight: budget.bitsPerWeight } : { bytes: budget.bytes! },
  };
  if (budget.dropBlocks !== undefined) o.maxDrops = { block: budget.dropBlocks };
  const p = blockProblem(spec, table, o);
  const sol = solveExact(p);
  if (!sol.feasible) throw new Error(`no plan fits the budget ${r.budget}: the cheapest choice costs more (try a larger budget, lower --ranks or more --drop kinds)`);
  return {
    allocation: solutionToAllocation(spec, p, sol, { budgetSpec: r.budget, formats: o.formats, ranks, drops }),
    scoresUsed: [...metrics, ...(ranks.length ? ['rank'] : [])].join(','),
  };
}
