// Importance panel (first version): the taps-only metrics computed from one forward pass, as a
// metrics x layers heatmap (normalised per metric), attention / MLP sublayer rows, a layers x tokens
// heatmap of block influence per token with the text under it, and the CKA layers x layers matrix.
import { useMemo } from 'react';
import { METRICS, type MetricId } from '../core/metrics/index.ts';
import type { LayerScores } from '../core/metrics/types.ts';
import { patchImportance, useWorkbench, workbench } from '../store/index.ts';
import { runImportance } from '../actions/importance.ts';
import { cancelJob } from '../actions/engine.ts';
import { Heatmap } from '../viz/index.ts';
import { pieceLabel } from './pieces.ts';
import { ErrorBox, Panel, ProgressBar } from './widgets.tsx';

const paperShort = (id: string): string => {
  const p = METRICS[id as MetricId]?.paper ?? '';
  const m = /^([^,]+?) (?:et al\. )?(\d{4})/.exec(p);
  const arxiv = /arXiv (\d{4}\.\d{4,5})/.exec(p);
  return m ? `${m[1]}${p.includes('et al.') ? ' et al.' : ''} ${m[2]}${arxiv ? `, arXiv ${arxiv[1]}` : ''}` : p;
};

function layerLabels(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `L${i}`);
}

export function ImportancePanel() {
  const imp = useWorkbench((s) => s.importance);
  const info = useWorkbench((s) => s.model.info);
  const serial = useWorkbench((s) => s.model.serial);
  const job = useWorkbench((s) => s.job);
  const r = imp.result;
  const kind = info?.tokenizer.kind;

  const views = useMemo(() => {
    if (!r) return null;
    const byId = new Map<string, LayerScores>(r.scores.map((s) => [s.metricId, s]));
    const blockRows = r.scores.map((s) => s.perBlock);
    const sub: { label: string; values: number[]; unit: string; hi: boolean }[] = [];
    for (const s of r.scores) {
      if (!s.perSublayer) continue;
      sub.push({ label: `${s.metricId}: attention`, values: s.perSublayer.attn, unit: s.unit, hi: s.higherIsMoreImportant });
      sub.push({ label: `${s.metricId}: MLP`, values: s.perSublayer.mlp, unit: s.unit, hi: s.higherIsMoreImportant });
    }
    const cos = byId.get('cos');
    const cka = byId.get('cka');
    return {
      blockRows,
      blockLabels: r.scores.map((s) => s.label),
      blockUnits: r.scores.map((s) => s.unit),
      blockHi: r.scores.map((s) => s.higherIsMoreImportant),
      sub,
      perToken: cos?.perToken ?? null,
      tokenLabels: r.pieces.map((p) => pieceLabel(p, kind)),
      matrix: cka?.matrix ?? null,
    };
  }, [r, kind]);

  const stale = r !== null && r.modelSerial !== serial;
  return (
    <Panel id="importance" wide title="Layer importance" intro="Which blocks change the residual stream most on this text. Each row is one metric, coloured by its own range; hover or use the arrow keys for exact values and ranks.">
      <div className="row">
        <button type="button" className="primary" disabled={!info || job !== null} onClick={() => void runImportance()} data-testid="importance-run">
          Run metrics
        </button>
        <button type="button" disabled={!imp.running} onClick={() => void cancelJob()}>
          Cancel
        </button>
        <label className="num">
          <span className="label">Tokens analysed</span>
          <input
            type="number"
            min={2}
            max={info?.spec.contextLength ?? 4096}
            value={imp.maxTokens}
            onChange={(e) => {
              const v = e.currentTarget.valueAsNumber;
              if (Number.isFinite(v) && v >= 2) patchImportance(workbench, { maxTokens: Math.round(v) });
            }}
          />
        </label>
      </div>
      {imp.running ? <ProgressBar progress={imp.progress} label="importance" testId="importance-progress" /> : null}
      <ErrorBox error={imp.error} onDismiss={() => patchImportance(workbench, { error: null })} testId="importance-error" />
      {r && views ? (
        <div className={stale ? 'result stale' : 'result'} data-testid="importance-result">
          <p className="muted">
            {r.T} tokens, {r.nLayers} layers, {r.seconds.toFixed(2)} s{stale ? ' · computed on another model: run again' : ''}
          </p>
          {r.failed.map((f) => (
            <p key={f.metricId} className="warn">
              {f.metricId}: {f.message}
            </p>
          ))}
          <Heatmap
            title="Metrics × layers"
            caption={`What am I looking at: how much each block rewrites its input, by several metrics (${r.scores.map((s) => `${s.metricId}: ${paperShort(s.metricId)}`).join('; ')}). Bright = more important.`}
            values={views.blockRows}
            rowLabels={views.blockLabels}
            colLabels={layerLabels(r.nLayers)}
            rowUnits={views.blockUnits}
            higherIsMore={views.blockHi}
            normalize="row"
            rankNoun="layer"
            testId="heatmap-metrics"
          />
          {views.sub.length > 0 ? (
            <Heatmap
              title="Sublayers × layers"
              caption="Attention and MLP scored separately (LLM-Drop, He et al. 2024, arXiv 2406.15786; Csordás et al. 2025, arXiv 2505.13898)."
              values={views.sub.map((s) => s.values)}
              rowLabels={views.sub.map((s) => s.label)}
              colLabels={layerLabels(r.nLayers)}
              rowUnits={views.sub.map((s) => s.unit)}
              higherIsMore={views.sub.map((s) => s.hi)}
              normalize="row"
              rankNoun="layer"
              rowHeight={28}
              testId="heatmap-sublayers"
            />
          ) : null}
          {views.perToken ? (
            <Heatmap
              title="Layers × tokens: block influence 1 − cos per token"
              caption="Where in the text each block changes the residual stream most (ShortGPT, Men et al. 2024, arXiv 2403.03853); the first token is often an outlier (attention sink)."
              values={views.perToken}
              rowLabels={layerLabels(r.nLayers)}
              colLabels={views.tokenLabels}
              rowUnits={views.perToken.map(() => '1 − cos')}
              normalize="none"
              rankNoun="token"
              rotateColLabels
              maxColLabels={128}
              rowHeight={24}
              testId="heatmap-tokens"
            />
          ) : null}
          {views.matrix ? (
            <Heatmap
              title="CKA between block outputs (layers × layers)"
              caption="Linear CKA of every pair of block outputs (Kornblith et al. 2019, arXiv 1905.00414): bright blocks of similar layers suggest redundancy."
              values={views.matrix}
              rowLabels={layerLabels(r.nLayers)}
              colLabels={layerLabels(r.nLayers)}
              normalize="none"
              scheme="cividis"
              rankNoun="layer"
              rowHeight={28}
              testId="heatmap-cka"
            />
          ) : null}
        </div>
      ) : null}
    </Panel>
  );
}
