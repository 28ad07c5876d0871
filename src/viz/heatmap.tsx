// Heatmap: a rows x columns matrix of numbers drawn as coloured cells (d3 scales and colour
// interpolators, React-rendered SVG). Pure: all data comes in through props. Options: per-row
// normalisation (each row coloured by its own min..max, e.g. one row per metric with different
// units), a tooltip with the exact value, and the cell's rank within its row on hover or keyboard
// focus (arrow keys move the focused cell). NaN cells are drawn hatched grey and unranked.

import { useId, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { interpolateViridis, interpolateCividis, interpolateRdBu, scaleBand } from 'd3';
import { labelStride, normalise, rowRanks, shortNumber } from './scales.ts';
import { useWidth } from './use-width.ts';

export type HeatmapScheme = 'viridis' | 'cividis' | 'diverging';

export interface HeatmapProps {
  /** values[r][c]; every row has colLabels.length entries. NaN allowed. */
  values: number[][];
  rowLabels: string[];
  colLabels: string[];
  /** Accessible name and heading of the chart. */
  title: string;
  /** One line: what the chart shows and where it comes from. */
  caption?: string;
  /** 'row': colour each row by its own range; 'none': one colour scale for the whole matrix. */
  normalize?: 'row' | 'none';
  /** Per-row orientation for ranks (true: larger = rank 1). Default true for every row. */
  higherIsMore?: boolean[];
  /** Per-row unit shown in the tooltip. */
  rowUnits?: string[];
  /** Word for what a rank orders ("layer", "token"). */
  rankNoun?: string;
  scheme?: HeatmapScheme;
  /** Height of one row in px (default 34). */
  rowHeight?: number;
  /** At most this many column labels are printed (others are in the tooltip). */
  maxColLabels?: number;
  /** Column labels drawn rotated (long labels such as tokens). */
  rotateColLabels?: boolean;
  testId?: string;
}

const interp = (s: HeatmapScheme) => (s === 'cividis' ? interpolateCividis : s === 'diverging' ? (t: number) => interpolateRdBu(1 - t) : interpolateViridis);

export function Heatmap(props: HeatmapProps) {
  const {
    values, rowLabels, colLabels, title, caption, normalize = 'none', higherIsMore, rowUnits, rankNoun = 'column',
    scheme = 'viridis', rowHeight = 34, maxColLabels = 40, rotateColLabels = false, testId,
  } = props;
  const wrap = useRef<HTMLDivElement>(null);
  const width = useWidth(wrap);
  const [active, setActive] = useState<{ r: number; c: number } | null>(null);
  const [focused, setFocused] = useState(false);
  const uid = useId();
  const nRows = values.length;
  const nCols = colLabels.length;

  const norm = useMemo(() => normalise(values, normalize), [values, normalize]);
  const ranks = useMemo(() => values.map((row, r) => rowRanks(row, higherIsMore?.[r] ?? true)), [values, higherIsMore]);
  const color = interp(scheme);

  const longestRow = rowLabels.reduce((a, l) => Math.max(a, l.length), 0);
  const left = Math.min(Math.max(120, Math.round(width * 0.3)), 12 + longestRow * 8);
  const rowChars = Math.floor((left - 12) / 8);
  const fitRow = (l: string): string => (l.length > rowChars ? `${l.slice(0, Math.max(1, rowChars - 1))}…` : l);
  const longestCol = colLabels.reduce((a, l) => Math.max(a, l.length), 0);
  const bottom = rotateColLabels ? Math.min(110, 18 + longestCol * 7.5) : 30;
  const top = 6;
  const right = 8;
  const innerW = Math.max(40, width - left - right);
  const innerH = nRows * rowHeight;
  const x = scaleBand<number>().domain(Array.from({ length: nCols }, (_, i) => i)).range([0, innerW]).paddingInner(nCols > 60 ? 0 : 0.04);
  const y = scaleBand<number>().domain(Array.from({ length: nRows }, (_, i) => i)).range([0, innerH]).paddingInner(0.06);
  const stride = labelStride(nCols, Math.min(maxColLabels, Math.floor(innerW / (rotateColLabels ? 14 : 34))));
  const height = top + innerH + bottom;

  const move = (e: KeyboardEvent<HTMLDivElement>) => {
    const cur = active ?? { r: 0, c: 0 };
    let { r, c } = cur;
    if (e.key === 'ArrowRight') c = Math.min(nCols - 1, c + 1);
    else if (e.key === 'ArrowLeft') c = Math.max(0, c - 1);
    else if (e.key === 'ArrowDown') r = Math.min(nRows - 1, r + 1);
    else if (e.key === 'ArrowUp') r = Math.max(0, r - 1);
    else if (e.key === 'Home') c = 0;
    else if (e.key === 'End') c = nCols - 1;
    else if (e.key === 'Escape') {
      setActive(null);
      return;
    } else return;
    e.preventDefault();
    setActive({ r, c });
  };

  const tip = active && active.r < nRows && active.c < nCols ? active : null;
  const tipValue = tip ? values[tip.r][tip.c] : NaN;
  const tipRank = tip ? ranks[tip.r][tip.c] : NaN;
  const tipFinite = tip ? values[tip.r].filter(Number.isFinite).length : 0;
  const tipX = tip ? left + (x(tip.c) ?? 0) + x.bandwidth() / 2 : 0;
  const tipY = tip ? top + (y(tip.r) ?? 0) : 0;

  if (nRows === 0 || nCols === 0) {
    return (
      <figure className="chart" data-testid={testId}>
        <figcaption className="chart-title">{title}</figcaption>
        <p className="muted">No data.</p>
      </figure>
    );
  }

  return (
    <figure className="chart heatmap" data-testid={testId}>
      <figcaption>
        <span className="chart-title" id={`${uid}-t`}>{title}</span>
        {caption ? <span className="chart-caption">{caption}</span> : null}
      </figcaption>
      <div
        ref={wrap}
        className="chart-area"
        tabIndex={0}
        role="group"
        aria-labelledby={`${uid}-t`}
        aria-describedby={`${uid}-tip`}
        onKeyDown={move}
        onFocus={() => {
          setFocused(true);
          if (!active) setActive({ r: 0, c: 0 });
        }}
        onBlur={() => {
          setFocused(false);
          setActive(null);
        }}
        onMouseLeave={() => !focused && setActive(null)}
      >
        <svg width={width} height={height} role="img" aria-label={title}>
          <defs>
            <pattern id={`${uid}-nan`} width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
              <rect width="6" height="6" fill="var(--nan-bg)" />
              <line x1="0" y1="0" x2="0" y2="6" stroke="var(--nan-fg)" strokeWidth="2" />
            </pattern>
          </defs>
          <g transform={`translate(${left},${top})`}>
            {values.map((row, r) =>
              row.map((v, c) => {
                const t = norm[r][c];
                return (
                  <rect
                    key={`${r}-${c}`}
                    x={x(c)}
                    y={y(r)}
                    width={Math.max(1, x.bandwidth())}
                    height={y.bandwidth()}
                    fill={Number.isFinite(t) ? color(t) : `url(#${uid}-nan)`}
                    stroke={tip && tip.r === r && tip.c === c ? 'var(--fg)' : 'none'}
                    strokeWidth={2}
                    data-row={r}
                    data-col={c}
                    data-value={String(v)}
                    onMouseEnter={() => setActive({ r, c })}
                  />
                );
              }),
            )}
          </g>
          <g className="axis" transform={`translate(${left - 8},${top})`}>
            {rowLabels.map((l, r) => (
              <text key={r} x={0} y={(y(r) ?? 0) + y.bandwidth() / 2} dy="0.35em" textAnchor="end">
                <title>{l}</title>
                {fitRow(l)}
              </text>
            ))}
          </g>
          <g className="axis" transform={`translate(${left},${top + innerH + 6})`}>
            {colLabels.map((l, c) =>
              c % stride === 0 ? (
                rotateColLabels ? (
                  <text key={c} transform={`translate(${(x(c) ?? 0) + x.bandwidth() / 2},0) rotate(-60)`} dy="0.35em" textAnchor="end" xmlSpace="preserve">
                    {l}
                  </text>
                ) : (
                  <text key={c} x={(x(c) ?? 0) + x.bandwidth() / 2} y={0} dy="0.9em" textAnchor="middle">
                    {l}
                  </text>
                )
              ) : null,
            )}
          </g>
        </svg>
        <div
          id={`${uid}-tip`}
          className={tip ? 'chart-tip' : 'chart-tip hidden'}
          role="status"
          aria-live="polite"
          style={
            tip
              ? tip.r < nRows / 2
                ? { left: Math.min(Math.max(0, tipX - 120), Math.max(0, width - 250)), top: tipY + y.bandwidth() + 8 }
                : { left: Math.min(Math.max(0, tipX - 120), Math.max(0, width - 250)), top: tipY - 8, transform: 'translateY(-100%)' }
              : undefined
          }
        >
          {tip ? (
            <>
              <strong>{rowLabels[tip.r]}</strong> · <span>{colLabels[tip.c]}</span>
              <br />
              <span className="mono" data-testid={testId ? `${testId}-tip-value` : undefined}>
                {Number.isFinite(tipValue) ? tipValue.toPrecision(7) : 'undefined (NaN)'}
              </span>
              {rowUnits?.[tip.r] ? <span className="muted"> {rowUnits[tip.r]}</span> : null}
              <br />
              {Number.isFinite(tipRank) ? (
                <span>
                  rank {tipRank} of {tipFinite} in this row ({higherIsMore?.[tip.r] === false ? 'smallest' : 'largest'} = 1, by {rankNoun})
                </span>
              ) : (
                <span className="muted">not ranked</span>
              )}
            </>
          ) : null}
        </div>
      </div>
      <div className="legend" aria-hidden="true">
        <span>{normalize === 'row' ? 'row min' : shortNumber(Math.min(...values.flat().filter(Number.isFinite)))}</span>
        <span className="legend-bar" style={{ background: `linear-gradient(to right, ${[0, 0.25, 0.5, 0.75, 1].map((t) => color(t)).join(',')})` }} />
        <span>{normalize === 'row' ? 'row max' : shortNumber(Math.max(...values.flat().filter(Number.isFinite)))}</span>
        {normalize === 'row' ? <span className="muted">(each row coloured by its own range)</span> : null}
      </div>
    </figure>
  );
}
