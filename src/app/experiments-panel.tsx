// Panel 6, Experiments: the sweeps of two papers as line charts, each next to the claim it tests.
//  - Layer-Wise Quantization (arXiv 2406.17415): move k% of the blocks to a lower format in the metric's
//    order (least important first), in reverse, and at random; NLL and KL against the original vs k.
//  - LLM-Drop (arXiv 2406.15786): drop n whole blocks, n attention sublayers or n MLP sublayers in the
//    metric's order; NLL and KL vs n.
// The engine's sweep (the code of `layerlab sweep`) computes every point on the calibration text.
import { LineChart } from '../viz/index.ts';
import { isCurrent, patchExperiments, useWorkbench, workbench } from '../store/index.ts';
import { runSweep } from '../actions/experiments.ts';
import { cancelJob } from '../actions/engine.ts';
import { CLAIMS, dropSweepSeries, formatSweepSeries, type Claim } from './experiments-data.ts';
import { ErrorBox, Panel, ProgressBar } from './widgets.tsx';
import './workbench-extra.css';

const FROM = ['Q8_0', 'F16', 'Q6_K'];
const TO = ['int2-g32-asym', 'int3-g32-asym', 'Q4_0', 'Q3_K', 'Q2_K'];
const STEPS = [10, 20, 25, 50];

function ClaimBox({ claim }: { claim: Claim }) {
  return (
    <blockquote className="claim" data-testid={`claim-${claim.id}`}>
      {claim.text}{' '}
      <cite>
        {claim.paper}, arXiv {claim.arxiv}
      </cite>
    </blockquote>
  );
}

export function ExperimentsPanel() {
  const x = useWorkbench((s) => s.experiments);
  const info = useWorkbench((s) => s.model.info);
  const scores = useWorkbench((s) => s.importance.result?.scores ?? null);
  const metricIds = scores?.map((m) => m.metricId) ?? [];
  const current = {
    f: useWorkbench((s) => isCurrent(s, s.experiments.format?.modelSerial)),
    d: useWorkbench((s) => isCurrent(s, s.experiments.drop?.modelSerial)),
  };
  const busy = useWorkbench((s) => s.job !== null);
  const metrics = [...new Set(['cos', 'lim', 'zd', ...metricIds.filter((m) => ['cos', 'lim', 'zd', 'contrib', 'cka', 'lens', 'weights', 'ablation'].includes(m))])];
  const L = info?.spec.nLayers ?? 0;
  const set = (p: Parameters<typeof patchExperiments>[1]) => patchExperiments(workbench, p);
  const f = x.format?.result;
  const d = x.drop?.result;
  return (
    <Panel
      id="experiments"
      wide
      title="Experiments"
      intro={`Does the importance order matter? Each sweep changes more and more of the model in an order and measures how far it drifts from the original on the calibration text.${L ? ` This model has ${L} blocks, so one block is ${Math.round(100 / L)}% of the model.` : ''}`}
    >
      <div className="row fields sweep-fields">
        <label className="num">
          <span className="label">order by metric</span>
          <select value={x.metric} onChange={(e) => set({ metric: e.target.value })} data-testid="sweep-metric">
            {metrics.map((m) => (
              <option key={m} value={m}>{m}</option>
            ))}
          </select>
        </label>
        <label className="num">
          <span className="label">from format</span>
          <select value={x.from} onChange={(e) => set({ from: e.target.value })} data-testid="sweep-from">
            {FROM.map((m) => <option key={m}>{m}</option>)}
          </select>
        </label>
        <label className="num">
          <span className="label">to format</span>
          <select value={x.to} onChange={(e) => set({ to: e.target.value })} data-testid="sweep-to">
            {TO.map((m) => <option key={m}>{m}</option>)}
          </select>
        </label>
        <label className="num">
          <span className="label">step (% of blocks)</span>
          <select value={x.step} onChange={(e) => set({ step: Number(e.target.value) })} data-testid="sweep-step">
            {STEPS.map((m) => <option key={m} value={m}>{m}</option>)}
          </select>
        </label>
        <label className="num">
          <span className="label">tokens</span>
          <input type="number" min={8} max={2048} value={x.maxTokens} onChange={(e) => set({ maxTokens: Math.max(8, Number(e.target.value) || 8) })} data-testid="sweep-tokens" />
        </label>
      </div>
      <div className="row">
        <button type="button" className="primary" disabled={!info || busy} onClick={() => void runSweep('format')} data-testid="sweep-format-run">
          Run the quantization sweep
        </button>
        <button type="button" className="primary" disabled={!info || busy} onClick={() => void runSweep('drop')} data-testid="sweep-drop-run">
          Run the drop sweep
        </button>
        <button type="button" disabled={!x.running} onClick={() => void cancelJob()} data-testid="sweep-cancel">
          Cancel
        </button>
      </div>
      {x.running ? <ProgressBar progress={x.progress} label={`${x.running} sweep`} testId="sweep-progress" /> : null}
      {x.cancelled && !x.running ? <p className="muted">Cancelled: the page and the model are as they were.</p> : null}
      <ErrorBox error={x.error} testId="sweep-error" onDismiss={() => set({ error: null })} />

      <h3>Mixed precision by importance (Layer-Wise Quantization)</h3>
      <ClaimBox claim={CLAIMS.lwq} />
      {f ? (
        <div className={current.f ? 'sweep-grid result' : 'sweep-grid result stale'} data-testid="sweep-format-result">
          <LineChart
            testId="chart-sweep-format-nll"
            title={`NLL as blocks move from ${f.from} to ${f.to}`}
            caption={`What am I looking at: mean NLL (nats/token, lower is better) on ${f.tokens} tokens after k% of the blocks are moved to ${f.to}, in three orders. A good order stays flat longer. (arXiv 2406.17415)`}
            xLabel="blocks moved (%)"
            yLabel="NLL (nats)"
            series={formatSweepSeries(f, 'meanNll')}
          />
          <LineChart
            testId="chart-sweep-format-kl"
            title="KL from the original"
            caption="What am I looking at: KL(original || modified) of the next-token distribution, averaged over the tokens; 0 means the same predictions. (arXiv 2406.17415)"
            xLabel="blocks moved (%)"
            yLabel="KL (nats)"
            series={formatSweepSeries(f, 'kl')}
          />
        </div>
      ) : (
        <p className="muted">Run the quantization sweep to draw these curves.</p>
      )}

      <h3>Dropping layers (LLM-Drop)</h3>
      <ClaimBox claim={CLAIMS.drop} />
      {d ? (
        <div className={current.d ? 'sweep-grid result' : 'sweep-grid result stale'} data-testid="sweep-drop-result">
          <LineChart
            testId="chart-sweep-drop-nll"
            title="NLL as blocks, attention or MLP sublayers are dropped"
            caption={`What am I looking at: mean NLL after dropping n of them, least important first by ${d.metric}. The flattest curve is what can go first. (arXiv 2406.15786)`}
            xLabel="number dropped"
            yLabel="NLL (nats)"
            series={dropSweepSeries(d, 'meanNll')}
          />
          <LineChart
            testId="chart-sweep-drop-kl"
            title="KL from the original after the drops"
            caption="What am I looking at: how far the next-token distribution moves (KL, nats) when n blocks / attention / MLP sublayers are skipped. (arXiv 2406.15786)"
            xLabel="number dropped"
            yLabel="KL (nats)"
            series={dropSweepSeries(d, 'kl')}
          />
        </div>
      ) : (
        <p className="muted">Run the drop sweep to draw these curves.</p>
      )}
      {(x.format && !current.f) || (x.drop && !current.d) ? <p className="warn">Some curves were computed on another model: run the sweep again.</p> : null}
    </Panel>
  );
}
