// Charts: pure components, data in through props (DESIGN.md: d3 is imported only here).
export { Heatmap, type HeatmapProps, type HeatmapScheme } from './heatmap.tsx';
export { LineChart, type LineChartProps, type LineSeries } from './line-chart.tsx';
export { ScatterChart, type ScatterChartProps, type ScatterPoint } from './scatter-chart.tsx';
export { finiteExtent, normalise, rowRanks, shortNumber, labelStride } from './scales.ts';
