// ScatterChart: labelled points (x, y) on linear axes (d3 scales and ticks; React-rendered SVG), one
// point per item, no connecting line (items such as compared plans have no order). Pure: data in through
// props. Hover, focus (Tab to the chart, arrow keys between points) shows the item's exact x and y.
// Used by the Compare panel for KL(original || modified) against stored bits per weight over the kept
// plans: the rate-distortion view of the Layer-Wise Quantization paper (arXiv 2406.17415) and of
// llama.cpp's quantization tables.

import { useId, useRef, useState, type KeyboardEvent } from 'react';
import { scaleLinear, schemeTableau10 } from 'd3';
import { finiteExtent } from './scales.ts';
import { useWidth } from './use-width.ts';
import { Axes } from './axes.tsx';

export interface ScatterPoint {
  /** Unique key and label shown beside the point. */
  name: string;
  x: number;
  y: number;
  color?: string;
}

export interface ScatterChartProps {
  points: ScatterPoint[];
  title: string;
  caption?: string;
  xLabel: string;
  yLabel: string;
  height?: number;
  testId?: string;
}

export function ScatterChart(props: ScatterChartProps) {
  const { title, caption, xLabel, yLabel, height = 280, testId } = props;
  const points = props.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const wrap = useRef<HTMLDivElement>(null);
  const width = useWidth(wrap);
  const uid = useId();
  const [hover, setHover] = useState<number | null>(null);
  const xExt = finiteExtent(points.map((p) => p.x)) ?? [0, 1];
  const yExt = finiteExtent([0, ...points.map((p) => p.y)]) ?? [0, 1];
  const m = { top: 12, right: 24, bottom: 48, left: 64 };
  const innerW = Math.max(40, width - m.left - m.right);
  const innerH = Math.max(40, height - m.top - m.bottom);
  const pad = (xExt[1] - xExt[0]) * 0.08 || 0.5;
  const x = scaleLinear().domain([xExt[0] - pad, xExt[1] + pad]).nice().range([0, innerW]);
  const y = scaleLinear().domain(yExt[0] === yExt[1] ? [yExt[0], yExt[0] + 1] : yExt).nice().range([innerH, 0]);
  const colorOf = (i: number) => points[i].color ?? schemeTableau10[i % schemeTableau10.length];
  const onKey = (e: KeyboardEvent<HTMLDivElement>) => {
    if (points.length === 0) return;
    if (e.key === 'ArrowRight' || e.key === 'ArrowDown') setHover(hover === null ? 0 : Math.min(points.length - 1, hover + 1));
    else if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') setHover(hover === null ? 0 : Math.max(0, hover - 1));
    else if (e.key === 'Escape') setHover(null);
    else return;
    e.preventDefault();
  };
  const hp = hover !== null ? points[hover] : undefined;
  return (
    <figure className="chart scatter-chart" data-testid={testId}>
      <figcaption>
        <span className="chart-title" id={`${uid}-t`}>{title}</span>
        {caption ? <span className="chart-caption">{caption}</span> : null}
      </figcaption>
      <div ref={wrap} className="chart-area" tabIndex={0} role="group" aria-labelledby={`${uid}-t`} onKeyDown={onKey} onBlur={() => setHover(null)} onMouseLeave={() => setHover(null)}>
        <svg width={width} height={height} role="img" aria-label={title}>
          <g transform={`translate(${m.left},${m.top})`}>
            <Axes x={x} y={y} innerW={innerW} innerH={innerH} xLabel={xLabel} yLabel={yLabel} />
            {points.map((p, i) => (
              <g key={p.name} transform={`translate(${x(p.x)},${y(p.y)})`} onMouseEnter={() => setHover(i)} data-name={p.name} data-x={p.x} data-y={p.y} className="scatter-point">
                <circle r={hover === i ? 7 : 5} fill={colorOf(i)} />
                <text x={8} dy="0.35em" className="point-label">{p.name}</text>
              </g>
            ))}
          </g>
        </svg>
        <div className={hp ? 'chart-tip' : 'chart-tip hidden'} role="status" aria-live="polite" style={hp ? { left: Math.min(m.left + x(hp.x) + 12, Math.max(0, width - 240)), top: m.top } : undefined}>
          {hp ? (
            <>
              <strong>{hp.name}</strong>
              <div>{xLabel}: <span className="mono">{hp.x.toPrecision(5)}</span></div>
              <div>{yLabel}: <span className="mono">{hp.y.toPrecision(5)}</span></div>
            </>
          ) : null}
        </div>
      </div>
    </figure>
  );
}
