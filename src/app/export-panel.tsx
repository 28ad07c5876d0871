// Panel 7, Export and share: the allocation plan as JSON, llama.cpp quantize arguments, a PEFT LoRA
// fragment and a GGUF of the modified model (all through the engine's exportAllocation, the code of
// `layerlab export`); every importance metric (and the sweeps) as CSV; every chart of the page as SVG
// (computed styles inlined) and PNG; and the share link (model id, calibration preset, plan). The loaded
// model itself as ONNX (engine.exportOnnx, the code of `layerlab export-onnx`), with residual-stream
// outputs, 4-bit MatMulNBits weights and a KV cache as options; refused for ONNX models.
import { useState } from 'react';
import { scoresCsv } from '../core/allocation/exporters.ts';
import type { ExportTarget } from '../worker/engine-allocation.ts';
import { useWorkbench } from '../store/index.ts';
import { exportWithEngine } from '../actions/export.ts';
import { currentShareLink } from '../actions/share.ts';
import { exportOnnxFromPage } from '../actions/export-onnx.ts';
import { chartFileName, downloadBlob, downloadText, listCharts, serializeSvg, svgToPng, type ChartRef } from './chart-export.ts';
import { sweepCsv } from './experiments-data.ts';
import { Panel } from './widgets.tsx';
import './workbench-extra.css';

const TARGETS: { to: ExportTarget; label: string; file: (model: string) => string; what: string }[] = [
  { to: 'json', label: 'Allocation JSON', file: (m) => `${m}-allocation.json`, what: 'the plan itself (layerlab.allocation/1): load it again with the CLI or the Allocation panel' },
  { to: 'llama-quantize', label: 'llama.cpp arguments', file: (m) => `${m}-llama-quantize.sh`, what: 'a llama-quantize command with --tensor-type per tensor (what GGUF can express)' },
  { to: 'peft', label: 'PEFT fragment', file: (m) => `${m}-peft-lora.json`, what: 'LoRA rank_pattern / target_modules for the rank entries (Hugging Face PEFT)' },
  { to: 'gguf', label: 'GGUF of the modified model', file: (m) => `${m}-modified.gguf`, what: 'the weights in their new formats, dropped blocks removed (GGUF sources only)' },
];

const slug = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'model';

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#ffffff';
}

export function ExportPanel() {
  const info = useWorkbench((s) => s.model.info);
  const plan = useWorkbench((s) => s.allocation?.plan ?? null);
  const scores = useWorkbench((s) => s.importance.result?.scores ?? null);
  const sweeps = useWorkbench((s) => s.experiments);
  const busy = useWorkbench((s) => s.job !== null);
  const [status, setStatus] = useState<{ text: string; bad: boolean } | null>(null);
  const [link, setLink] = useState('');
  const [charts, setCharts] = useState<{ id: string; title: string }[] | null>(null);
  const [onnxOpts, setOnnxOpts] = useState({ residualOutputs: false, weights4bit: false, kvCache: false });
  const model = slug(info?.spec.name ?? 'model');

  const say = (text: string, bad = false) => setStatus({ text, bad });

  const exportPlan = async (t: (typeof TARGETS)[number]) => {
    if (!plan) return;
    say(`exporting ${t.label}…`);
    try {
      const r = await exportWithEngine(plan, t.to, t.to === 'llama-quantize' ? `${model}.gguf` : undefined);
      if (r.bytes) downloadBlob(t.file(model), new Blob([r.bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
      else downloadText(t.file(model), r.text ?? '', t.to === 'llama-quantize' ? 'text/x-shellscript' : 'application/json');
      const unsupported = Array.isArray(r.extra.unsupported) && r.extra.unsupported.length ? ` Not expressible there: ${(r.extra.unsupported as string[]).join('; ')}.` : '';
      say(`saved ${t.file(model)} (${r.size.toLocaleString('en-US')} bytes).${unsupported}`);
    } catch (e) {
      say(`${t.label}: ${e instanceof Error ? e.message : String(e)}`, true);
    }
  };

  const onnxRefusal = info?.format === 'onnx' ? 'The loaded model is already ONNX: LayerLab exports ONNX from GGUF, safetensors or llama2.c weights.' : null;
  const exportOnnx = async () => {
    say('exporting ONNX…');
    try {
      const r = await exportOnnxFromPage(onnxOpts);
      downloadBlob(r.fileName, new Blob([r.bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
      const kept = r.float32Linears.length ? ` ${r.float32Linears.length} linear weight(s) stayed float32 (rows not a multiple of 32).` : '';
      say(`saved ${r.fileName} (${r.bytes.byteLength.toLocaleString('en-US')} bytes, ONNX opset ${r.opset}, outputs: ${r.outputs.length > 4 ? `${r.outputs.slice(0, 3).join(', ')}, … (${r.outputs.length})` : r.outputs.join(', ')}).${kept}`);
    } catch (e) {
      say(`ONNX: ${e instanceof Error ? e.message : String(e)}`, true);
    }
  };
  const onnxOption = (key: keyof typeof onnxOpts, label: string, what: string) => (
    <label className="check" title={what}>
      <input type="checkbox" checked={onnxOpts[key]} data-testid={`export-onnx-${key}`} onChange={(e) => {
        const on = e.currentTarget.checked;
        setOnnxOpts((o) => ({ ...o, [key]: on }));
      }} />
      {label} <span className="muted small-print">({what})</span>
    </label>
  );

  const copyLink = async () => {
    try {
      const url = await currentShareLink();
      setLink(url);
      try {
        await navigator.clipboard.writeText(url);
        say('share link copied to the clipboard');
      } catch {
        say('the clipboard is not available here: copy the link from the box');
      }
    } catch (e) {
      const x = e as { message?: string; hint?: string };
      say(`${x.message ?? String(e)}${x.hint ? `. ${x.hint}` : ''}`, true);
    }
  };

  const findChart = (id: string): ChartRef | undefined => listCharts().find((c) => c.id === id);
  const saveChart = async (id: string, ext: 'svg' | 'png') => {
    const c = findChart(id);
    if (!c) return say('that chart is no longer on the page: list the charts again', true);
    const s = serializeSvg(c.svg, { title: c.title, background: cssVar('--panel') });
    try {
      if (ext === 'svg') downloadText(chartFileName(c.title, 'svg'), s.text, 'image/svg+xml');
      else downloadBlob(chartFileName(c.title, 'png'), await svgToPng(s.text, s.width, s.height, 2));
      say(`saved ${chartFileName(c.title, ext)}`);
    } catch (e) {
      say(`${c.title}: ${e instanceof Error ? e.message : String(e)}`, true);
    }
  };

  const haveSweeps = !!(sweeps.format || sweeps.drop);
  return (
    <Panel id="export" title="Export and share" intro="Take the plan, the numbers and the charts with you: files for llama.cpp and PEFT, tables for a spreadsheet, pictures for slides, and a link that opens this state.">
      <h3>The allocation plan</h3>
      {plan ? null : <p className="muted" data-testid="export-no-plan">No plan yet: make one in the Allocation panel (or open a share link that has one).</p>}
      <div className="export-grid">
        {TARGETS.map((t) => (
          <button key={t.to} type="button" data-testid={`export-${t.to}`} disabled={!plan || !info || busy} onClick={() => void exportPlan(t)} title={t.what}>
            <strong>{t.label}</strong>
            <br />
            <span className="muted small-print">{t.what}</span>
          </button>
        ))}
      </div>

      <h3>The model as ONNX</h3>
      <p className="muted small-print">
        The loaded model (not the plan) as a standard ONNX graph, opset 17, for onnxruntime and other runtimes: the same file as <code>layerlab export-onnx</code>.
      </p>
      <div className="row" role="group" aria-label="ONNX export options">
        {onnxOption('residualOutputs', 'Residual-stream outputs', 'hidden.* outputs after every block, for cross-checks')}
        {onnxOption('weights4bit', '4-bit weights', 'MatMulNBits: onnxruntime only')}
        {onnxOption('kvCache', 'KV cache', 'past/present key-value tensors')}
      </div>
      <div className="export-grid">
        <button type="button" data-testid="export-onnx" disabled={!info || busy || onnxRefusal !== null} onClick={() => void exportOnnx()} title={onnxRefusal ?? 'download the loaded model as .onnx'}>
          <strong>Download ONNX</strong>
          <br />
          <span className="muted small-print">input_ids → logits{onnxOpts.residualOutputs ? ' + hidden states' : ''}{onnxOpts.weights4bit ? ', 4-bit linears' : ''}{onnxOpts.kvCache ? ', KV cache' : ''}</span>
        </button>
      </div>
      {onnxRefusal ? <p className="muted" data-testid="export-onnx-refused">{onnxRefusal}</p> : null}

      <h3>Numbers</h3>
      <div className="export-grid">
        <button type="button" data-testid="export-csv" disabled={!scores} onClick={() => scores && (downloadText(`${model}-importance.csv`, scoresCsv(scores), 'text/csv'), say(`saved ${model}-importance.csv`))}>
          <strong>Importance CSV</strong>
          <br />
          <span className="muted small-print">every metric, block and sublayer: value and rank</span>
        </button>
        <button type="button" data-testid="export-sweep-csv" disabled={!haveSweeps} onClick={() => (downloadText(`${model}-sweeps.csv`, sweepCsv([sweeps.format?.result, sweeps.drop?.result]), 'text/csv'), say(`saved ${model}-sweeps.csv`))}>
          <strong>Sweeps CSV</strong>
          <br />
          <span className="muted small-print">NLL, KL, top-1 and bits per point of the Experiments sweeps</span>
        </button>
      </div>

      <h3>Charts</h3>
      <div className="chart-exports">
        <div className="row">
          <button type="button" data-testid="export-list-charts" onClick={() => setCharts(listCharts().map((c) => ({ id: c.id, title: c.title })))}>
            {charts ? 'List the charts again' : 'List the charts on the page'}
          </button>
        </div>
        {charts ? (
          charts.length ? (
            <ul data-testid="export-charts">
              {charts.map((c) => (
                <li key={c.id}>
                  <span>{c.title}</span>
                  <button type="button" className="small" data-testid={`export-svg-${c.id}`} onClick={() => void saveChart(c.id, 'svg')}>SVG</button>
                  <button type="button" className="small" data-testid={`export-png-${c.id}`} onClick={() => void saveChart(c.id, 'png')}>PNG</button>
                </li>
              ))}
            </ul>
          ) : (
            <p className="muted">No charts drawn yet.</p>
          )
        ) : null}
      </div>

      <h3>Share</h3>
      <div className="share-box">
        <button type="button" className="primary" data-testid="share-copy" disabled={!info} onClick={() => void copyLink()}>
          Copy share link
        </button>
        <input type="text" readOnly value={link} placeholder="the link appears here" aria-label="share link" data-testid="share-link" onFocus={(e) => e.currentTarget.select()} />
      </div>
      <p className="muted small-print">The link holds the model id, the calibration preset and the plan; a model loaded from local files cannot be shared.</p>
      {status ? (
        <p role="status" className={status.bad ? 'warn' : 'notice-ok'} data-testid="export-status" data-bad={status.bad}>
          {status.text}
        </p>
      ) : null}
    </Panel>
  );
}
