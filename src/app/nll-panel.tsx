// Perplexity panel: mean NLL (nats per token) and perplexity of the calibration text with a progress
// bar and cancel, and the per-token NLL as a line chart.
import { useMemo } from 'react';
import { patchNll, useWorkbench, workbench } from '../store/index.ts';
import { measureNll } from '../actions/nll.ts';
import { cancelJob } from '../actions/engine.ts';
import { LineChart } from '../viz/index.ts';
import { fmtInt } from './format.ts';
import { ErrorBox, Panel, ProgressBar } from './widgets.tsx';

export function NllPanel() {
  const nll = useWorkbench((s) => s.nll);
  const info = useWorkbench((s) => s.model.info);
  const serial = useWorkbench((s) => s.model.serial);
  const text = useWorkbench((s) => s.calibration.text);
  const job = useWorkbench((s) => s.job);
  const r = nll.result;
  const stale = r !== null && (r.modelSerial !== serial || r.text !== text);
  const series = useMemo(() => (r ? [{ name: 'NLL of token t', points: r.tokenNll.map((y, i) => ({ x: r.positions[i] ?? i + 1, y })) }] : []), [r]);
  return (
    <Panel id="nll" title="Perplexity" intro="Mean negative log-likelihood of the calibration text: each token predicted from the ones before it. Lower is better.">
      <div className="row">
        <button type="button" className="primary" disabled={!info || job !== null} onClick={() => void measureNll()} data-testid="nll-run">
          Measure NLL
        </button>
        <button type="button" disabled={!nll.running} onClick={() => void cancelJob()} data-testid="nll-cancel">
          Cancel
        </button>
      </div>
      {nll.running ? <ProgressBar progress={nll.progress} label="measuring NLL" testId="nll-progress" /> : null}
      {nll.cancelled && !nll.running ? <p className="muted">Cancelled.</p> : null}
      {r ? (
        <div className={stale ? 'result stale' : 'result'}>
          <div className="big-numbers">
            <div>
              <div className="label">mean NLL</div>
              <div className="big mono" data-testid="nll-value" data-value={String(r.meanNll)}>
                {r.meanNll.toFixed(6)}
              </div>
              <div className="muted">nats / token</div>
            </div>
            <div>
              <div className="label">perplexity</div>
              <div className="big mono" data-testid="ppl-value" data-value={String(r.perplexity)}>
                {r.perplexity.toFixed(3)}
              </div>
            </div>
            <div>
              <div className="label">scored</div>
              <div className="big mono">{fmtInt(r.scored)}</div>
              <div className="muted">
                of {fmtInt(r.tokens)} tokens, {r.windows} window{r.windows === 1 ? '' : 's'}, {r.seconds.toFixed(2)} s
              </div>
            </div>
          </div>
          {stale ? <p className="muted">Measured on {r.modelSerial !== serial ? 'another model' : 'a different text'}: run again to update.</p> : null}
          <LineChart
            series={series}
            title="Per-token NLL"
            caption="How surprised the model is by each token of the text (nats); spikes are hard tokens."
            xLabel="token position"
            yLabel="NLL (nats)"
            height={220}
            testId="nll-chart"
          />
        </div>
      ) : null}
      <ErrorBox error={nll.error} onDismiss={() => patchNll(workbench, { error: null })} testId="nll-error" />
    </Panel>
  );
}
