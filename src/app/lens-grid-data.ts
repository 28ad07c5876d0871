// Data shaping of the logit-lens grid (nostalgebraist 2020, "interpreting GPT: the logit lens"): from the
// analysis' LensDetail (L x T x k top ids and probabilities, pFinal L x T, the final top-1 per position)
// and the lens metric's per-token KL(final || block) (L x T), one cell per block l and position t with
// the readout's top token piece (display text, never HTML), its probability, the top-k list, pFinal and
// KL; plus the model's own final prediction per position as a last row. DOM-free (unit-tested in Node).

import type { LensDetail } from '../core/analysis/lens-detail.ts';
import { pieceLabel } from './pieces.ts';

export interface LensTop {
  id: number;
  piece: string;
  prob: number;
}

export interface LensCell {
  /** The readout's most probable token at this block and position. */
  top: LensTop;
  /** The top-k, most probable first. */
  topK: LensTop[];
  /** Probability this block's readout gives the model's final prediction at t. */
  pFinal: number;
  /** KL(final || block) in nats at t (null when the lens scores did not carry it). */
  kl: number | null;
  /** Whether the top token equals the model's final top-1 at t. */
  agrees: boolean;
}

export interface LensGrid {
  /** Block labels, one per row (L0 .. L{L-1}). */
  rows: string[];
  /** Input token pieces (display text), one per column. */
  inputs: string[];
  /** Position index of each column in the analysed text. */
  positions: number[];
  /** rows x columns. */
  cells: LensCell[][];
  /** The model's final prediction per column (top-1 and its probability). */
  final: LensTop[];
  k: number;
}

/**
 * Shapes a LensDetail for display. `inputPieces` are the analysed tokens' raw vocabulary pieces (T);
 * `kl` the lens metric's perToken (L x T, optional); at most `maxCols` positions are kept (the first ones).
 */
export function shapeLensGrid(lens: LensDetail, inputPieces: string[], opts: { kl?: number[][] | null; tokenizerKind?: string; maxCols?: number } = {}): LensGrid {
  const L = lens.topIds.length;
  const T = lens.finalTop1.length;
  if (lens.topProbs.length !== L || lens.pFinal.length !== L) throw new Error('lens detail: topIds, topProbs and pFinal disagree on the number of blocks');
  const cols = Math.min(T, opts.maxCols ?? T);
  const piece = (id: number): string => {
    const raw = lens.pieces?.[String(id)];
    return raw === undefined ? `#${id}` : pieceLabel(raw, opts.tokenizerKind);
  };
  const tok = (id: number, prob: number): LensTop => ({ id, piece: piece(id), prob });
  const positions = Array.from({ length: cols }, (_, t) => t);
  const cells: LensCell[][] = [];
  for (let l = 0; l < L; l++) {
    const ids = lens.topIds[l];
    const probs = lens.topProbs[l];
    if (!ids || ids.length !== T || probs.length !== T) throw new Error(`lens detail: block ${l} has ${ids?.length ?? 0} positions, expected ${T}`);
    const row: LensCell[] = [];
    for (const t of positions) {
      const topK = ids[t].map((id, j) => tok(id, probs[t][j]));
      if (topK.length === 0) throw new Error(`lens detail: block ${l} position ${t} has no tokens`);
      const kl = opts.kl?.[l]?.[t];
      row.push({ top: topK[0], topK, pFinal: lens.pFinal[l][t], kl: kl === undefined || !Number.isFinite(kl) ? null : kl, agrees: topK[0].id === lens.finalTop1[t] });
    }
    cells.push(row);
  }
  return {
    rows: Array.from({ length: L }, (_, l) => `L${l}`),
    inputs: positions.map((t) => pieceLabel(inputPieces[t] ?? '', opts.tokenizerKind)),
    positions,
    cells,
    final: positions.map((t) => tok(lens.finalTop1[t], lens.finalTop1Prob[t])),
    k: lens.k,
  };
}

/** Background of a cell for probability p in [0, 1]: a light-to-dark blue ramp (white text from p > 0.55). */
export function probColour(p: number): { background: string; color: string } {
  const x = Math.min(1, Math.max(0, Number.isFinite(p) ? p : 0));
  const l = Math.round(96 - 66 * x);
  return { background: `hsl(215 70% ${l}%)`, color: x > 0.55 ? '#fff' : '#111' };
}

/** The tooltip text of a cell (plain text). */
export function cellTitle(g: LensGrid, l: number, c: number): string {
  const cell = g.cells[l][c];
  const t = g.positions[c];
  const lines = [
    `block ${l}, position ${t} (input ${JSON.stringify(g.inputs[c])})`,
    ...cell.topK.map((x, j) => `${j + 1}. ${JSON.stringify(x.piece)} ${(100 * x.prob).toFixed(1)}%`),
    `p(final prediction ${JSON.stringify(g.final[c].piece)}) = ${(100 * cell.pFinal).toFixed(1)}%`,
  ];
  if (cell.kl !== null) lines.push(`KL(final || block) = ${cell.kl.toFixed(3)} nats`);
  return lines.join('\n');
}
