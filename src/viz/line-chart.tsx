// LineChart: one or more series of (x, y) points on shared linear axes (d3 scales, ticks and line
// generator; React-rendered SVG). Pure: data in through props. Hover or arrow keys pick the nearest x;
// the tooltip lists every series' exact value there. Used by the experiment sweeps (accuracy or
// perplexity against layers removed) and any per-layer curve.

import { useId, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { line as d3line, scaleLinear, schemeTableau10 } from 'd3';
import { finiteExtent, shortNumber } from './scales.ts';
import { useWidth } from './use-width.ts';
import { Axes } from './axes.tsx';

export interface LineSeries {
  name: string;
  points: { x: number; y: number }[];
  /** CSS colour; defaults to the Tableau 10 palette in order. */
  color?: string;
  dashed?: boolean;
}

export interface LineChartProps {
  series: LineSeries[];
  title: string;
  caption?: string;
  xLabel: string;
  yLabel: string;
  height?: number;
  /** Log scale on y is not offered: sweeps of perplexity are shown as NLL instead. */
  yDomain?: [number, number];
  testId?: string;
}

export function LineChart(props: LineChartProps) {
  const { series, title, caption, xLabel, yLabel, height = 300, yDomain, testId } = props;
  const wrap = useRef<HTMLDivElement>(null);
  const width = useWidth(wrap);
  const uid = useId();
  const [hoverX, setHoverX] = useState<number | null>(null);

  const xs = useMemo(() => [...new Set(series.flatMap((s) => s.points.map((p) => p.x)))].filter(Number.isFinite).sort((a, b) => a - b), [series]);
  const xExt = finiteExtent(xs) ?? [0, 1];
  const yExt = yDomain ?? finiteExtent(series.flatMap((s) => s.points.map((p) => p.y))) ?? [0, 1];
  const m = { top: 10, right: 16, bottom: 48, left: 64 };
  const innerW = Math.max(40, width - m.left - m.right);
  const innerH = Math.max(40, height - m.top - m.bottom);
  const x = scaleLinear().domain(xExt[0] === xExt[1] ? [xExt[0] - 1, xExt[1] + 1] : xExt).range([0, innerW]);
  const y = scaleLinear().domain(yExt[0] === yExt[1] ? [yExt[0] - 1, yExt[1] + 1] : yExt).nice().range([innerH, 0]);
  const path = d3line<{ x: number; y: number }>()
    .defined((p) => Number.isFinite(p.y))
    .x((p) => x(p.x))
    .y((p) => y(p.y));
  const colorOf = (i: number) => series[i].color ?? schemeTableau10[i % schemeTableau10.length];

  const pick = (px: number) => {
    let best: number | null = null;
    for (const v of xs) if (best === null || Math.abs(x(v) - px) < Math.abs(x(best) - px)) best = v;
    setHoverX(best);
  };
  const onKey = (e: KeyboardEvent<HTMLDivElement>) => {
    if (xs.length === 0) return;
    const i = hoverX === null ? -1 : xs.indexOf(hoverX);
    if (e.key === 'ArrowRight') setHoverX(xs[Math.min(xs.length - 1, i + 1)]);
    else if (e.key === 'ArrowLeft') setHoverX(xs[Math.max(0, i - 1)]);
    else if (e.key === 'Escape') setHoverX(null);
    else return;
    e.preventDefault();
  };

  return (
    <figure className="chart line-chart" data-testid={testId}>
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
        onKeyDown={onKey}
        onBlur={() => setHoverX(null)}
        onMouseLeave={() => setHoverX(null)}
        onMouseMove={(e) => {
          const r = e.currentTarget.getBoundingClientRect();
          pick(e.clientX - r.left - m.left);
        }}
      >
        <svg width={width} height={height} role="img" aria-label={title}>
          <g transform={`translate(${m.left},${m.top})`}>
            <Axes x={x} y={y} innerW={innerW} innerH={innerH} xLabel={xLabel} yLabel={yLabel} />
            {series.map((s, i) => (
              <g key={s.name}>
                <path d={path(s.points) ?? ''} fill="none" stroke={colorOf(i)} strokeWidth={2.5} strokeDasharray={s.dashed ? '6 4' : undefined} />
                {s.points.map((p, j) =>
                  Number.isFinite(p.y) ? <circle key={j} cx={x(p.x)} cy={y(p.y)} r={hoverX === p.x ? 5 : 3} fill={colorOf(i)} data-x={p.x} data-y={p.y} /> : null,
                )}
              </g>
            ))}
            {hoverX !== null ? <line className="rule" x1={x(hoverX)} x2={x(hoverX)} y1={0} y2={innerH} /> : null}
          </g>
        </svg>
        <div className={hoverX !== null ? 'chart-tip' : 'chart-tip hidden'} role="status" aria-live="polite" style={hoverX !== null ? { left: Math.min(m.left + x(hoverX) + 12, Math.max(0, width - 240)), top: m.top } : undefined}>
          {hoverX !== null ? (
            <>
              <strong>{xLabel} = {shortNumber(hoverX)}</strong>
              {series.map((s, i) => {
                const p = s.points.find((q) => q.x === hoverX);
                return (
                  <div key={s.name}>
                    <span className="swatch" style={{ background: colorOf(i) }} /> {s.name}: <span className="mono">{p && Number.isFinite(p.y) ? p.y.toPrecision(6) : '—'}</span>
                  </div>
                );
              })}
            </>
          ) : null}
        </div>
      </div>
      <div className="legend">
        {series.map((s, i) => (
          <span key={s.name} className="legend-item">
            <span className="swatch" style={{ background: colorOf(i) }} /> {s.name}
          </span>
        ))}
      </div>
    </figure>
  );
}
