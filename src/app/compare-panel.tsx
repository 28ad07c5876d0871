// Compare panel: runs the Allocation panel's plan in the worker (engine.compare, the same function as
// `layerlab compare`) and shows original vs modified: the generated text from one prompt and seed side by
// side with the first divergence marked, mean NLL and perplexity, KL(original || modified), top-1
// agreement, the per-token KL over the evaluation text as a heatmap with the tokens under it, size and
// speed. Every run is kept under a name and the kept runs are shown together in one table (NLL, ppl full
// and chunked, KL, top-1, bits per weight, resident bytes, prefill / decode tok/s, K/V cache bits per
// token; rename, remove) with a chart of KL against bits per weight over them (src/viz ScatterChart).
import { useMemo } from 'react';
import { commitPlan, klVsBitsPoints, patchCompare, removeRun, renameRun, splitAtDivergence, useWorkbench, workbench, type CompareGenSide, type CompareRun } from '../store/index.ts';
import { runCompare } from '../actions/compare.ts';
import { cancelJob } from '../actions/engine.ts';
import { Heatmap, ScatterChart } from '../viz/index.ts';
import { displayPiece, pieceLabel } from './pieces.ts';
import { fmtBytes, fmtRate } from './format.ts';
import { ErrorBox, Panel, ProgressBar } from './widgets.tsx';

const f = (x: number | null | undefined, d = 4): string => (x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(d));

function GenColumn(props: { title: string; side: CompareGenSide; at: number | null; kind: string | undefined; testId: string }) {
  const { same, diverged, rest } = splitAtDivergence(props.side.pieces, props.at);
  const show = (p: string[]) => p.map((x) => displayPiece(x, props.kind)).join('');
  return (
    <div style={{ flex: 1, minWidth: 0 }}>
      <div className="label">{props.title}</div>
      <div className="gen-output mono" data-testid={props.testId} data-ids={props.side.ids.join(',')} style={{ whiteSpace: 'pre-wrap' }}>
        {show(same)}
        {diverged !== null ? <mark title="first token where the two generations differ" data-testid={`${props.testId}-divergence`}>{displayPiece(diverged, props.kind)}</mark> : null}
        {show(rest)}
      </div>
    </div>
  );
}

function RunDetail(props: { run: CompareRun; tokenizerKind: string | undefined; stale: boolean }) {
  const { run: r, tokenizerKind, stale } = props;
  const colLabels = useMemo(() => r.pieces.map((p) => pieceLabel(p, tokenizerKind)), [r.pieces, tokenizerKind]);
  // KL row t compares the distributions predicting token t+1; the label under column t is token t (its context end).
  // The 0/1 row of top-1 changes only when it is not constant (a flat row would be drawn mid-scale).
  const mixed = r.top1PerToken.some((x) => x) && r.top1PerToken.some((x) => !x);
  const values = useMemo(() => (mixed ? [r.klPerToken, r.top1PerToken.map((x) => (x ? 0 : 1))] : [r.klPerToken]), [r.klPerToken, r.top1PerToken, mixed]);
  const rows: [string, string, string, string][] = [
    ['mean NLL (nats/token)', f(r.base.meanNll, 6), f(r.modified.meanNll, 6), 'nll'],
    ['perplexity', f(r.base.ppl), f(r.modified.ppl), 'ppl'],
    ...(r.chunked ? [[`perplexity, chunked (ctx ${r.chunked.ctx}, ${r.chunked.chunks} chunks)`, f(r.chunked.base.perplexity), f(r.chunked.modified.perplexity), 'ppl-chunked'] as [string, string, string, string]] : []),
    ['resident bytes', r.size ? fmtBytes(r.size.baseResidentBytes) : '—', r.size ? fmtBytes(r.size.residentBytes) : '—', 'bytes'],
    ['prefill tok/s', fmtRate(r.base.prefillTokensPerSecond), fmtRate(r.modified.prefillTokensPerSecond), 'prefill'],
    ['decode tok/s', fmtRate(r.base.decodeTokensPerSecond), fmtRate(r.modified.decodeTokensPerSecond), 'decode'],
  ];
  return (
    <div className={stale ? 'result stale' : 'result'} data-testid="cmp-detail" data-run={r.name}>
      <div className="big-numbers">
        <div>
          <div className="label">KL(original ‖ modified)</div>
          <div className="big mono" data-testid="cmp-kl" data-value={String(r.kl)}>{f(r.kl, 6)}</div>
          <div className="muted">nats / token, mean over {r.tokens} positions</div>
        </div>
        <div>
          <div className="label">top-1 agreement</div>
          <div className="big mono" data-testid="cmp-top1" data-value={String(r.top1)}>{(r.top1 * 100).toFixed(2)}%</div>
        </div>
        <div>
          <div className="label">NLL change</div>
          <div className="big mono" data-testid="cmp-nll-diff" data-value={String(r.nllDiff)}>{r.nllDiff >= 0 ? '+' : ''}{f(r.nllDiff, 5)}</div>
        </div>
        <div>
          <div className="label">bits per weight</div>
          <div className="big mono" data-testid="cmp-bpw" data-value={r.size ? String(r.size.matrixBitsPerWeight) : ''}>{r.size ? r.size.matrixBitsPerWeight.toFixed(3) : '—'}</div>
          <div className="muted">stored, over the weight matrices</div>
        </div>
      </div>
      {stale ? <p className="muted">This run was made on another model.</p> : null}
      <table className="mono" data-testid="cmp-table">
        <thead><tr><th scope="col" /><th scope="col">original</th><th scope="col">modified</th></tr></thead>
        <tbody>
          {rows.map(([label, b, m, id]) => (
            <tr key={id}>
              <th scope="row" style={{ textAlign: 'left', paddingRight: '1em' }}>{label}</th>
              <td data-testid={`cmp-${id}-base`} data-value={id === 'nll' ? String(r.base.meanNll) : id === 'ppl' ? String(r.base.ppl) : undefined}>{b}</td>
              <td data-testid={`cmp-${id}-mod`} data-value={id === 'nll' ? String(r.modified.meanNll) : id === 'ppl' ? String(r.modified.ppl) : undefined}>{m}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {r.drops.length ? <p className="muted">dropped: {r.drops.join(', ')}</p> : null}
      {r.fallbacks.length ? <p className="muted">fallbacks: {r.fallbacks.map((x) => `${x.name} ${x.from}→${x.to}`).join(', ')}</p> : null}
      {r.generation ? (
        <div data-testid="cmp-generation" data-divergence={r.generation.firstDivergence === null ? '' : String(r.generation.firstDivergence)}>
          <p>
            Generation from <span className="mono">{JSON.stringify(r.generation.prompt)}</span> (seed {r.generation.seed}):{' '}
            {r.generation.firstDivergence === null ? 'identical' : `first divergence at generated token ${r.generation.firstDivergence} (marked)`}
          </p>
          <div className="row" style={{ alignItems: 'flex-start', gap: '1em' }}>
            <GenColumn title="original" side={r.generation.base} at={r.generation.firstDivergence} kind={tokenizerKind} testId="cmp-gen-base" />
            <GenColumn title="modified" side={r.generation.modified} at={r.generation.firstDivergence} kind={tokenizerKind} testId="cmp-gen-mod" />
          </div>
        </div>
      ) : null}
      <Heatmap
        values={values}
        rowLabels={mixed ? ['KL (nats)', 'top-1 differs'] : ['KL (nats)']}
        colLabels={colLabels}
        title="Per-token divergence of the modified model"
        caption={`What am I looking at: for each position of the evaluation text, KL(original ‖ modified) of the next-token distributions${mixed ? ' and whether the top-1 token changed' : ` (the top-1 token ${r.top1 === 1 ? 'never' : 'always'} changes)`} — the measures of llama.cpp's perplexity --kl-divergence, used by the Layer-Wise Quantization paper (arXiv 2406.17415); tokens under the cells.`}
        normalize="row"
        rowUnits={mixed ? ['nats', ''] : ['nats']}
        rankNoun="token"
        rotateColLabels
        maxColLabels={120}
        rowHeight={30}
        testId="cmp-heatmap"
      />
    </div>
  );
}

const bitsOrDash = (b: number | undefined): string => (b === undefined || !Number.isFinite(b) ? '—' : b.toLocaleString('en-US', { maximumFractionDigits: 0 }));

function RunsTable() {
  const runs = useWorkbench((s) => s.compare.runs);
  const selected = useWorkbench((s) => s.compare.selected);
  const points = useMemo(() => klVsBitsPoints(runs), [runs]);
  if (runs.length === 0) return null;
  const first = runs[0];
  return (
    <div>
      <div style={{ overflowX: 'auto' }}>
        <table className="mono" data-testid="cmp-runs">
          <caption className="chart-caption" style={{ captionSide: 'bottom', textAlign: 'left' }}>
            What am I looking at: every kept plan against the same original model (first row, from the first kept run): mean NLL and
            perplexity on the evaluation text (chunked as llama-perplexity when a chunked ctx was set), KL(original ‖ modified) and top-1
            agreement as llama.cpp's perplexity --kl-divergence, stored bits per weight over the weight matrices, resident bytes, speed,
            and K/V cache bits per token (packed at the plan's KV bits, 16 unquantized; KVTuner, arXiv 2502.04420). Lower KL and higher
            top-1 at fewer bits is the better trade (Layer-Wise Quantization, arXiv 2406.17415; drops as in ShortGPT, arXiv 2403.03853,
            and LLM-Drop, arXiv 2406.15786). Rename a plan in its box.
          </caption>
          <thead>
            <tr>
              <th scope="col">plan</th><th scope="col">NLL</th><th scope="col">ppl</th><th scope="col">ppl chunked</th><th scope="col">KL</th><th scope="col">top-1</th>
              <th scope="col">bits/w</th><th scope="col">resident</th><th scope="col">prefill tok/s</th><th scope="col">decode tok/s</th><th scope="col">K/V bits/token</th><th scope="col" />
            </tr>
          </thead>
          <tbody>
            <tr data-testid="cmp-run-original" className="muted">
              <td>original</td>
              <td>{f(first.base.meanNll, 4)}</td>
              <td>{f(first.base.ppl, 3)}</td>
              <td>{first.chunked ? f(first.chunked.base.perplexity, 3) : '—'}</td>
              <td>0</td>
              <td>100%</td>
              <td>—</td>
              <td>{first.size ? fmtBytes(first.size.baseResidentBytes) : '—'}</td>
              <td>{fmtRate(first.base.prefillTokensPerSecond)}</td>
              <td>{fmtRate(first.base.decodeTokensPerSecond)}</td>
              <td>{bitsOrDash(first.size?.baseKvCacheBitsPerToken)}</td>
              <td />
            </tr>
            {runs.map((r) => (
              <tr key={r.id} data-testid="cmp-run-row" data-name={r.name} aria-selected={r.id === selected}>
                <td>
                  <input defaultValue={r.name} key={r.name} aria-label="plan name" data-testid="cmp-run-name" onBlur={(e) => renameRun(workbench, r.id, e.target.value)} onKeyDown={(e) => { if (e.key === 'Enter') renameRun(workbench, r.id, e.currentTarget.value); }} style={{ width: '14em', fontWeight: r.id === selected ? 'bold' : 'normal' }} />
                </td>
                <td data-col="nll" data-value={String(r.modified.meanNll)}>{f(r.modified.meanNll, 4)}</td>
                <td data-col="ppl" data-value={String(r.modified.ppl)}>{f(r.modified.ppl, 3)}</td>
                <td data-col="ppl-chunked" data-value={r.chunked ? String(r.chunked.modified.perplexity) : ''} title={r.chunked ? `ctx ${r.chunked.ctx}, ${r.chunked.chunks} chunks` : 'set a chunked ctx before the run'}>{r.chunked ? f(r.chunked.modified.perplexity, 3) : '—'}</td>
                <td data-col="kl" data-value={String(r.kl)}>{f(r.kl, 5)}</td>
                <td data-col="top1" data-value={String(r.top1)}>{(r.top1 * 100).toFixed(1)}%</td>
                <td data-col="bpw" data-value={r.size ? String(r.size.matrixBitsPerWeight) : ''}>{r.size ? r.size.matrixBitsPerWeight.toFixed(2) : '—'}</td>
                <td data-col="resident" data-value={r.size ? String(r.size.residentBytes) : ''}>{r.size ? fmtBytes(r.size.residentBytes) : '—'}</td>
                <td data-col="prefill">{fmtRate(r.modified.prefillTokensPerSecond)}</td>
                <td data-col="decode">{fmtRate(r.modified.decodeTokensPerSecond)}</td>
                <td data-col="kv" data-value={r.size?.kvCacheBitsPerToken !== undefined ? String(r.size.kvCacheBitsPerToken) : ''}>{bitsOrDash(r.size?.kvCacheBitsPerToken)}</td>
                <td>
                  <button type="button" className="small" onClick={() => patchCompare(workbench, { selected: r.id })} disabled={r.id === selected}>Show</button>{' '}
                  <button type="button" className="small" onClick={() => commitPlan(workbench, r.allocation, r.modelSerial)} title="put this run's plan back in the Allocation panel">Edit plan</button>{' '}
                  <button type="button" className="small" onClick={() => removeRun(workbench, r.id)} aria-label={`remove ${r.name}`} data-testid="cmp-run-remove">Remove</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {points.length ? (
        <ScatterChart
          points={points}
          title="KL vs bits per weight over the kept plans"
          caption="What am I looking at: one point per kept plan, KL(original ‖ modified) in nats per token against the stored bits per weight of its weight matrices; the lower left is the better trade. The rate-distortion view of the Layer-Wise Quantization paper (arXiv 2406.17415) and of llama.cpp's quantization tables."
          xLabel="bits per weight"
          yLabel="KL (nats / token)"
          testId="cmp-kl-bpw"
        />
      ) : null}
    </div>
  );
}

export function ComparePanel() {
  const c = useWorkbench((s) => s.compare);
  const info = useWorkbench((s) => s.model.info);
  const serial = useWorkbench((s) => s.model.serial);
  const hasPlan = useWorkbench((s) => s.allocation.plan !== null);
  const job = useWorkbench((s) => s.job);
  const run = c.runs.find((r) => r.id === c.selected) ?? null;
  const num = (k: 'maxTokens' | 'ctx' | 'genTokens' | 'seed' | 'temperature', v: string) => patchCompare(workbench, { [k]: Number(v) || 0 });
  return (
    <Panel id="compare" title="Compare" wide intro="Run the plan and see what it costs: the modified model against the original on the same text, prompt and seed.">
      <div className="row fields">
        <label>
          name{' '}
          <input value={c.name} placeholder="from the plan" onChange={(e) => patchCompare(workbench, { name: e.target.value })} data-testid="cmp-name" style={{ width: '12em' }} />
        </label>
        <label className="check">
          <input type="checkbox" checked={c.useCalibration} onChange={(e) => patchCompare(workbench, { useCalibration: e.target.checked })} data-testid="cmp-use-calibration" />
          evaluate on the calibration text
        </label>
        <label>
          first{' '}
          <input type="number" min={2} value={c.maxTokens} onChange={(e) => num('maxTokens', e.target.value)} style={{ width: '5em' }} data-testid="cmp-maxTokens" /> tokens
        </label>
        <label>
          chunked ctx{' '}
          <input type="number" min={0} value={c.ctx} onChange={(e) => num('ctx', e.target.value)} style={{ width: '5em' }} title="0: off" data-testid="cmp-ctx" />
        </label>
      </div>
      {!c.useCalibration ? (
        <textarea rows={4} style={{ width: '100%' }} value={c.text} onChange={(e) => patchCompare(workbench, { text: e.target.value })} aria-label="evaluation text" data-testid="cmp-text" />
      ) : null}
      <div className="row fields">
        <label>
          prompt{' '}
          <input value={c.prompt} onChange={(e) => patchCompare(workbench, { prompt: e.target.value })} data-testid="cmp-prompt" style={{ width: '16em' }} />
        </label>
        <label>
          tokens <input type="number" min={1} value={c.genTokens} onChange={(e) => num('genTokens', e.target.value)} style={{ width: '4em' }} data-testid="cmp-genTokens" />
        </label>
        <label>
          temperature <input type="number" min={0} step={0.1} value={c.temperature} onChange={(e) => num('temperature', e.target.value)} style={{ width: '4em' }} />
        </label>
        <label>
          seed <input type="number" value={c.seed} onChange={(e) => num('seed', e.target.value)} style={{ width: '5em' }} data-testid="cmp-seed" />
        </label>
      </div>
      <div className="row">
        <button type="button" className="primary" disabled={!info || !hasPlan || job !== null} onClick={() => void runCompare()} data-testid="cmp-run">
          Run comparison
        </button>
        <button type="button" disabled={!c.running} onClick={() => void cancelJob()} data-testid="cmp-cancel">Cancel</button>
        {!hasPlan ? <span className="muted">Make a plan in the Allocation panel first.</span> : null}
      </div>
      {c.running ? <ProgressBar progress={c.progress} label="comparing" testId="cmp-progress" /> : null}
      {c.cancelled && !c.running ? <p className="muted">Cancelled.</p> : null}
      <ErrorBox error={c.error} onDismiss={() => patchCompare(workbench, { error: null })} testId="cmp-error" />
      {run ? <RunDetail run={run} tokenizerKind={info?.tokenizer.kind} stale={run.modelSerial !== serial} /> : null}
      <RunsTable />
    </Panel>
  );
}
