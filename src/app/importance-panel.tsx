// Importance panel: choose metric groups, run engine.analyze with a progress bar and cancel, and read
// the results: metrics x layers (each metric normalised on its own row; ranks and exact values on hover
// or keyboard focus; metrics an ONNX model does not get are disabled with the reason), attention / MLP sublayer rows, a layers x tokens heatmap of a per-token metric
// over the text, the CKA layers x layers matrix and the rank agreement between metrics.
import { useEffect, useMemo } from 'react';
import { ANALYSIS_META } from '../core/analysis/metrics.ts';
import { patchImportance, useWorkbench, workbench } from '../store/index.ts';
import { runImportance } from '../actions/importance.ts';
import { cancelJob } from '../actions/engine.ts';
import { Heatmap } from '../viz/index.ts';
import { pieceLabel } from './pieces.ts';
import { ErrorBox, Panel, ProgressBar } from './widgets.tsx';
import { isOnnx, onnxMetricBlocked } from './onnx-features.ts';
import { LensGrid } from './lens-grid.tsx';
import { MetricProgress } from './metric-progress.tsx';

/** The metric groups engine.analyze accepts, as the panel offers them. */
export const METRIC_GROUPS: { id: string; label: string; cost: string }[] = [
  { id: 'cos', label: 'Block influence 1 − cos (ShortGPT)', cost: 'taps' },
  { id: 'lim', label: 'LIM (LayerwiseQuant)', cost: 'taps' },
  { id: 'contrib', label: 'Relative contribution ‖f(x)‖/‖x‖', cost: 'taps' },
  { id: 'cka', label: '1 − CKA(in, out) and the CKA matrix', cost: 'taps' },
  { id: 'lens', label: 'Logit lens', cost: 'taps + unembedding' },
  { id: 'zd', label: 'ZD (weights)', cost: 'weights' },
  { id: 'weights', label: 'Weight statistics (Frobenius, kurtosis, outliers, OWL, effective rank)', cost: 'weights' },
  { id: 'ablation', label: 'Ablation: skip each block / attention / MLP', cost: '3 × layers extra forwards' },
  { id: 'quant', label: 'Quantization sensitivity', cost: 'many extra forwards: slow' },
  { id: 'agreement', label: 'Rank agreement between the metrics', cost: 'free' },
];

const GROUP_LABELS: Record<string, string> = { forward: 'Forward passes with taps', ...Object.fromEntries(METRIC_GROUPS.map((g) => [g.id, g.label])) };

/** "Men et al. 2024, arXiv 2403.03853" from a metric's paper field. */
export function paperShort(id: string): string {
  const p = ANALYSIS_META[id]?.paper ?? '';
  const m = /^([^,;]+?) (?:et al\. )?(\d{4})/.exec(p);
  const arxiv = /arXiv (\d{4}\.\d{4,5})/.exec(p);
  if (!m) return p.slice(0, 80);
  return `${m[1]}${/^[^,;]+? et al\./.test(p) ? ' et al.' : ''} ${m[2]}${arxiv ? `, arXiv ${arxiv[1]}` : ''}`;
}

const layerLabels = (n: number): string[] => Array.from({ length: n }, (_, i) => `L${i}`);

export function ImportancePanel() {
  const imp = useWorkbench((s) => s.importance);
  const info = useWorkbench((s) => s.model.info);
  const serial = useWorkbench((s) => s.model.serial);
  const job = useWorkbench((s) => s.job);
  const r = imp.result;
  const kind = info?.tokenizer.kind;

  const views = useMemo(() => {
    if (!r) return null;
    const sub: { label: string; values: number[]; unit: string; hi: boolean }[] = [];
    for (const s of r.scores) {
      if (!s.perSublayer) continue;
      sub.push({ label: `${s.metricId}: attention`, values: s.perSublayer.attn, unit: s.unit, hi: s.higherIsMoreImportant });
      sub.push({ label: `${s.metricId}: MLP`, values: s.perSublayer.mlp, unit: s.unit, hi: s.higherIsMoreImportant });
    }
    const withTokens = r.scores.filter((s) => s.perToken && s.perToken.length === r.nLayers);
    return {
      sub,
      withTokens,
      tokenLabels: r.pieces.map((p) => pieceLabel(p, kind)),
      cka: r.scores.find((s) => s.metricId === 'cka')?.matrix ?? null,
    };
  }, [r, kind]);

  const tokenScores = views?.withTokens.find((s) => s.metricId === imp.tokenMetric) ?? views?.withTokens[0] ?? null;
  const stale = r !== null && r.modelSerial !== serial;
  // An ONNX model: the groups that need LayerLab's own forward are unchecked and disabled (not refused at run time).
  const blocked = useMemo(() => new Map(METRIC_GROUPS.map((g) => [g.id, onnxMetricBlocked(info, g.id)] as const).filter(([, why]) => why !== null)), [info]);
  useEffect(() => {
    const metrics = workbench.getState().importance.metrics;
    if (blocked.size && metrics.some((m) => blocked.has(m))) patchImportance(workbench, { metrics: metrics.filter((m) => !blocked.has(m)) });
  }, [blocked]);
  const toggle = (id: string, on: boolean) =>
    patchImportance(workbench, { metrics: on ? [...new Set([...imp.metrics, id])] : imp.metrics.filter((m) => m !== id) });

  return (
    <Panel
      id="importance"
      wide
      title="Layer importance"
      intro="Which blocks matter on this text, by several metrics side by side. Each row is one metric, coloured by its own range (bright = more important); hover a cell, or focus a chart and use the arrow keys, for exact values and ranks."
    >
      <fieldset className="metric-choice">
        <legend>Metrics</legend>
        {METRIC_GROUPS.map((g) => (
          <label key={g.id} className="check" title={blocked.get(g.id) ?? undefined}>
            <input
              type="checkbox"
              checked={imp.metrics.includes(g.id) && !blocked.has(g.id)}
              disabled={blocked.has(g.id)}
              onChange={(e) => toggle(g.id, e.currentTarget.checked)}
              data-testid={`metric-${g.id}`}
            />
            {g.label} <span className="muted">({blocked.has(g.id) ? 'not for ONNX models' : g.cost})</span>
          </label>
        ))}
        {isOnnx(info) ? (
          <p className="muted small-print" data-testid="importance-onnx-note">
            ONNX model (onnxruntime-web): the activation metrics come from graph outputs added at each block and the weight metrics from the initializers.
            {blocked.size ? ` Not available: ${[...blocked].map(([id, why]) => `${id}, ${why}`).join('; ')}.` : ''}
          </p>
        ) : null}
      </fieldset>
      <div className="row">
        <button type="button" className="primary" disabled={!info || job !== null || imp.metrics.length === 0} onClick={() => void runImportance()} data-testid="importance-run">
          Run metrics
        </button>
        <button type="button" disabled={!imp.running} onClick={() => void cancelJob()} data-testid="importance-cancel">
          Cancel
        </button>
        <label className="num">
          <span className="label">Tokens analysed</span>
          <input
            type="number"
            min={2}
            max={info?.spec.contextLength ?? 4096}
            value={imp.maxTokens}
            data-testid="importance-tokens"
            onChange={(e) => {
              const v = e.currentTarget.valueAsNumber;
              if (Number.isFinite(v) && v >= 2) patchImportance(workbench, { maxTokens: Math.round(v) });
            }}
          />
        </label>
      </div>
      {imp.running ? <ProgressBar progress={imp.progress} label="importance" testId="importance-progress" /> : null}
      {imp.groups ? <MetricProgress rows={imp.groups} labels={GROUP_LABELS} /> : null}
      {imp.cancelled && !imp.running ? <p className="muted">Cancelled: the page and the model are as they were.</p> : null}
      <ErrorBox error={imp.error} onDismiss={() => patchImportance(workbench, { error: null })} testId="importance-error" />
      {r && views ? (
        <div className={stale ? 'result stale' : 'result'} data-testid="importance-result">
          <p className="muted">
            {r.T} tokens, {r.nLayers} layers, base NLL {r.baseNll.toFixed(4)} nats, {r.seconds.toFixed(2)} s
            {stale ? ' · computed on another model: run again' : ''}
          </p>
          <Heatmap
            title="Metrics × layers"
            caption={`What am I looking at: one row per metric, one column per block; bright = the metric rates the block more important. ${r.scores
              .map((s) => `${s.metricId}: ${paperShort(s.metricId)}`)
              .join('; ')}.`}
            values={r.scores.map((s) => s.perBlock)}
            rowLabels={r.scores.map((s) => s.label)}
            colLabels={layerLabels(r.nLayers)}
            rowUnits={r.scores.map((s) => s.unit)}
            higherIsMore={r.scores.map((s) => s.higherIsMoreImportant)}
            normalize="row"
            rankNoun="layer"
            rowHeight={30}
            testId="heatmap-metrics"
          />
          {views.sub.length > 0 ? (
            <Heatmap
              title="Sublayers × layers"
              caption="Attention and MLP scored separately (LLM-Drop: He et al. 2024, arXiv 2406.15786): attention is often the more redundant half."
              values={views.sub.map((s) => s.values)}
              rowLabels={views.sub.map((s) => s.label)}
              colLabels={layerLabels(r.nLayers)}
              rowUnits={views.sub.map((s) => s.unit)}
              higherIsMore={views.sub.map((s) => s.hi)}
              normalize="row"
              rankNoun="layer"
              rowHeight={26}
              testId="heatmap-sublayers"
            />
          ) : null}
          {tokenScores?.perToken ? (
            <>
              <label className="num inline">
                <span className="label">Per-token metric</span>
                <select value={tokenScores.metricId} onChange={(e) => patchImportance(workbench, { tokenMetric: e.currentTarget.value })} data-testid="token-metric">
                  {views.withTokens.map((s) => (
                    <option key={s.metricId} value={s.metricId}>
                      {s.label}
                    </option>
                  ))}
                </select>
              </label>
              <Heatmap
                title={`Layers × tokens: ${tokenScores.label}`}
                caption={`Where in the text each block matters (${paperShort(tokenScores.metricId)}); the first token is often an outlier (attention sink).`}
                values={tokenScores.perToken}
                rowLabels={layerLabels(r.nLayers)}
                colLabels={views.tokenLabels}
                rowUnits={tokenScores.perToken.map(() => tokenScores.unit)}
                normalize="none"
                rankNoun="token"
                rotateColLabels
                maxColLabels={128}
                rowHeight={24}
                testId="heatmap-tokens"
              />
            </>
          ) : null}
          {r.lens ? <LensGrid lens={r.lens} inputPieces={r.pieces} kl={r.scores.find((s) => s.metricId === 'lens')?.perToken ?? null} tokenizerKind={kind} /> : null}
          {views.cka ? (
            <Heatmap
              title="CKA between block outputs (layers × layers)"
              caption="Linear CKA of every pair of block outputs (Kornblith et al. 2019, arXiv 1905.00414): a bright square of neighbouring layers means they compute similar representations (candidates for merging or dropping)."
              values={views.cka}
              rowLabels={layerLabels(r.nLayers)}
              colLabels={layerLabels(r.nLayers)}
              normalize="none"
              scheme="cividis"
              rankNoun="layer"
              rowHeight={28}
              testId="heatmap-cka"
            />
          ) : null}
          {r.agreement && r.agreement.ids.length > 1 ? (
            <Heatmap
              title="Rank agreement between metrics (Spearman ρ)"
              caption="Do the metrics order the layers the same way? 1 = identical ranking, −1 = reversed. Metrics that disagree measure different things."
              values={r.agreement.spearman}
              rowLabels={r.agreement.ids}
              colLabels={r.agreement.ids}
              normalize="none"
              scheme="diverging"
              rankNoun="metric"
              rowHeight={28}
              testId="heatmap-agreement"
            />
          ) : null}
        </div>
      ) : null}
    </Panel>
  );
}
