// Axes: the y grid with tick labels, x ticks, the baseline and both axis labels of a chart on linear
// d3 scales, drawn inside the chart's inner <g> (origin at the top-left of the plot area). Shared by
// LineChart and ScatterChart so both charts read the same way.

import type { ScaleLinear } from 'd3';
import { shortNumber } from './scales.ts';

export interface AxesProps {
  x: ScaleLinear<number, number>;
  y: ScaleLinear<number, number>;
  innerW: number;
  innerH: number;
  xLabel: string;
  yLabel: string;
}

export function Axes({ x, y, innerW, innerH, xLabel, yLabel }: AxesProps) {
  return (
    <>
      {y.ticks(5).map((t) => (
        <g key={`y${t}`} className="axis" transform={`translate(0,${y(t)})`}>
          <line x2={innerW} className="grid" />
          <text x={-8} dy="0.35em" textAnchor="end">{shortNumber(t)}</text>
        </g>
      ))}
      {x.ticks(Math.min(10, Math.max(2, Math.floor(innerW / 70)))).map((t) => (
        <g key={`x${t}`} className="axis" transform={`translate(${x(t)},${innerH})`}>
          <line y2={6} className="tick" />
          <text y={10} dy="0.9em" textAnchor="middle">{shortNumber(t)}</text>
        </g>
      ))}
      <line x1={0} x2={innerW} y1={innerH} y2={innerH} className="axis-line" />
      <text className="axis-label" x={innerW / 2} y={innerH + 42} textAnchor="middle">{xLabel}</text>
      <text className="axis-label" transform={`translate(${-50},${innerH / 2}) rotate(-90)`} textAnchor="middle">{yLabel}</text>
    </>
  );
}
