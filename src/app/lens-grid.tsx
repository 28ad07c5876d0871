// The logit-lens grid (nostalgebraist 2020): one row per block, one column per position of the analysed
// text; each cell shows the token the block's output would predict if the network ended there (final
// norm + unembedding) and its probability, coloured by that probability. Hover (title) or keyboard focus
// (arrow keys inside the grid) shows the top-k, p(final prediction) and KL(final || block). The input
// tokens run under the grid and the model's own prediction above them. Token pieces are text only.
import { useMemo, useState, type KeyboardEvent } from 'react';
import type { LensDetail } from '../core/analysis/lens-detail.ts';
import { cellTitle, probColour, shapeLensGrid } from './lens-grid-data.ts';

const MAX_COLS = 64;

const cellStyle = { padding: '2px 4px', minWidth: 44, maxWidth: 90, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap', fontFamily: 'var(--mono, monospace)', fontSize: 13, textAlign: 'center', border: '1px solid var(--border, #ccc)' } as const;

export function LensGrid(props: { lens: LensDetail; inputPieces: string[]; kl?: number[][] | null; tokenizerKind?: string }) {
  const { lens, inputPieces, kl, tokenizerKind } = props;
  const g = useMemo(() => shapeLensGrid(lens, inputPieces, { kl, tokenizerKind, maxCols: MAX_COLS }), [lens, inputPieces, kl, tokenizerKind]);
  const [at, setAt] = useState<{ l: number; c: number }>({ l: Math.max(0, g.rows.length - 1), c: 0 });
  const L = g.rows.length;
  const C = g.positions.length;
  if (L === 0 || C === 0) return null;
  const cur = { l: Math.min(at.l, L - 1), c: Math.min(at.c, C - 1) };
  const onKey = (e: KeyboardEvent<HTMLTableElement>) => {
    const d = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1], Home: [0, -C], End: [0, C] }[e.key];
    if (!d) return;
    e.preventDefault();
    setAt({ l: Math.max(0, Math.min(L - 1, cur.l + d[0])), c: Math.max(0, Math.min(C - 1, cur.c + d[1])) });
  };
  const focusCell = g.cells[cur.l][cur.c];
  return (
    <figure className="chart lens-grid" data-testid="lens-grid">
      <figcaption>
        <span className="chart-title">Logit lens: layers × positions</span>
        <span className="chart-caption">
          What am I looking at: each cell is the token block L would predict next if the model stopped there (its output read through the final norm and
          unembedding), with its probability; darker = more confident. Rows near the bottom usually agree with the model's final prediction (nostalgebraist
          2020, "interpreting GPT: the logit lens"). Click the grid and use the arrow keys for the top-{g.k} and KL(final ‖ block).
          {C < lens.finalTop1.length ? ` First ${C} of ${lens.finalTop1.length} positions.` : ''}
        </span>
      </figcaption>
      <div style={{ overflowX: 'auto', maxWidth: '100%' }}>
        <table
          tabIndex={0}
          role="grid"
          aria-label="Logit lens grid: arrow keys move between blocks and positions"
          aria-rowcount={L + 2}
          aria-colcount={C + 1}
          onKeyDown={onKey}
          style={{ borderCollapse: 'collapse' }}
          data-testid="lens-grid-table"
        >
          <tbody>
            {g.cells.map((row, l) => (
              <tr key={l} role="row">
                <th scope="row" style={{ paddingRight: 6, textAlign: 'right' }}>
                  {g.rows[l]}
                </th>
                {row.map((cell, c) => {
                  const col = probColour(cell.top.prob);
                  const active = l === cur.l && c === cur.c;
                  return (
                    <td
                      key={c}
                      role="gridcell"
                      aria-selected={active}
                      title={cellTitle(g, l, c)}
                      onClick={() => setAt({ l, c })}
                      data-testid={`lens-cell-${l}-${g.positions[c]}`}
                      data-token={cell.top.id}
                      data-prob={cell.top.prob}
                      style={{ ...cellStyle, ...col, outline: active ? '2px solid var(--accent, #e07000)' : undefined, fontWeight: cell.agrees ? 700 : 400 }}
                    >
                      {cell.top.piece}
                      <br />
                      <small>{(100 * cell.top.prob).toFixed(0)}%</small>
                    </td>
                  );
                })}
              </tr>
            ))}
            <tr role="row">
              <th scope="row" style={{ paddingRight: 6, textAlign: 'right' }} title="The model's own prediction (final logits)">
                final
              </th>
              {g.final.map((f, c) => (
                <td key={c} role="gridcell" style={{ ...cellStyle, ...probColour(f.prob) }} title={`final prediction ${JSON.stringify(f.piece)} ${(100 * f.prob).toFixed(1)}%`} data-testid={`lens-final-${g.positions[c]}`}>
                  {f.piece}
                </td>
              ))}
            </tr>
            <tr role="row" className="muted">
              <th scope="row" style={{ paddingRight: 6, textAlign: 'right' }}>
                input
              </th>
              {g.inputs.map((p, c) => (
                <td key={c} role="gridcell" style={{ ...cellStyle, border: 'none', fontStyle: 'italic' }} data-testid={`lens-input-${g.positions[c]}`}>
                  {p}
                </td>
              ))}
            </tr>
          </tbody>
        </table>
      </div>
      <p className="muted small-print" aria-live="polite" data-testid="lens-grid-detail" style={{ whiteSpace: 'pre-line' }}>
        {cellTitle(g, cur.l, cur.c)}
        {focusCell.agrees ? '\n(agrees with the final prediction)' : ''}
      </p>
    </figure>
  );
}
