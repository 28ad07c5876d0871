// Allocation panel: pick the knob (weight format, drop blocks / attention / MLP, SVD rank, sparsity, KV
// bits), a budget slider with the resulting size and bits per weight shown live (computed in the page from
// the model's tensor table, src/store/allocation.ts estimatePlanSize), a strategy and the metric from the
// importance results; then the plan as an editable grid (layers x weights / sublayers: click or drag over
// cells with a brush), undo / redo (buttons, Ctrl+Z, Ctrl+Shift+Z), the plan's validation errors with
// what is allowed, and the plan as JSON (text only: nothing from a file or a box is rendered as HTML).
import { useEffect, useMemo, useRef, useState } from 'react';
import {
  ALLOCATION_KNOBS, beginStroke, blankPlan, cellView, columnLabel, commitPlan, defaultBudget, endStroke, estimatePlanSize, gridColumns, knobUsesStrategy,
  paintCell, parsePlanText, patchAllocation, previewPlan, redoPlan, sliderSpec, strategiesFor, strategyInfo, strokePaint, strokeSets, undoPlan, usesParamsBudget,
  useWorkbench, workbench, type AllocationKnob, type AllocationState, type Brush, type GridColumn, type SizeEstimate,
} from '../store/index.ts';
import { GGUF_FORMATS, PLAIN_BITS, KV_BITS, SPARSITY_METHODS, allocationJson, formatBitsPerWeight, parseWeightFormat, type DropKind, type SparsityMethod } from '../core/allocation/index.ts';
import type { StrategyName } from '../worker/engine-allocation.ts';
import { makePlan } from '../actions/allocation.ts';
import { runCompare } from '../actions/compare.ts';
import { cancelJob } from '../actions/engine.ts';
import { fmtBytes, fmtParams } from './format.ts';
import { ErrorBox, Panel, ProgressBar } from './widgets.tsx';
import { ONNX_ALLOCATION_NOTE } from './onnx-features.ts';

const FORMAT_CHOICES = [...GGUF_FORMATS, ...PLAIN_BITS.map((b) => `int${b}-g32-asym`)];

const colKey = (c: GridColumn): string => (c.kind === 'tensor' ? c.suffix : c.kind);

/** A cell's tint by stored bits per weight: 2 bits red through 8+ bits green; no format / F32 none. */
function formatTint(format: string | null): string | undefined {
  const f = format ? parseWeightFormat(format) : null;
  if (!f) return undefined;
  const bits = formatBitsPerWeight(f);
  if (bits >= 32) return undefined;
  const t = Math.max(0, Math.min(1, (bits - 2) / 7));
  return `hsla(${Math.round(t * 120)}, 70%, 50%, 0.25)`;
}

function brushLabel(b: Brush): string {
  switch (b.kind) {
    case 'format': return `format ${b.format}`;
    case 'drop': return 'toggle drop';
    case 'rank': return `rank ${b.rank}`;
    case 'sparsity': return `sparsity ${Math.round(b.ratio * 100)}%`;
    case 'kv': return `KV ${b.bits} bits`;
    default: return 'clear';
  }
}

/** The live readout of a size estimate: bytes, bits per weight, and the parameter ratio when the plan changes parameters (ranks, sparsity, drops). */
function sizeLine(e: SizeEstimate, showParams: boolean): string {
  const parts = [
    `${fmtBytes(e.bytes)} (from ${fmtBytes(e.baseBytes)})`,
    `${e.bitsPerWeight.toFixed(3)} bits per weight over the weight matrices, embeddings included (from ${e.baseBitsPerWeight.toFixed(3)})`,
  ];
  if (showParams || e.paramRatio < 1) parts.push(`parameter ratio ${e.paramRatio.toFixed(3)} (${fmtParams(e.paramsKept)} of ${fmtParams(e.paramsTotal)} in the blocks' linear weights)`);
  if (e.droppedParams) parts.push(`${fmtParams(e.droppedParams)} parameters dropped`);
  return parts.join(', ');
}

const SOLVE_FORMATS = ['Q8_0', 'Q6_K', 'Q5_0', 'Q4_K', 'Q4_0', 'Q3_K', 'Q2_K'];
const DROP_KINDS: readonly DropKind[] = ['attn', 'mlp', 'block'];

/** The strategy's own options: spread / metric / seed for ordered painting, sparsity method, owl's lambda, the mixed solver's candidates. */
function StrategyOptions(props: { a: AllocationState; metricIds: string[] }) {
  const { a, metricIds } = props;
  const set = (p: Partial<AllocationState>) => patchAllocation(workbench, p);
  const ordered = a.strategy === 'ranked' || a.strategy === 'reverse' || a.strategy === 'random';
  const painted = a.knob === 'rank' || a.knob === 'sparsity' || a.knob === 'kv';
  return (
    <>
      {a.knob === 'sparsity' ? (
        <label>
          method{' '}
          <select value={a.sparsityMethod} onChange={(e) => {
            const sparsityMethod = e.target.value as SparsityMethod;
            // the slider changes meaning only to and from 2:4 (then it counts blocks)
            const reset = (sparsityMethod === '2:4') !== (a.sparsityMethod === '2:4') && a.strategy !== 'owl';
            set({ sparsityMethod, ...(reset ? { budget: defaultBudget({ ...a, sparsityMethod }, workbench.getState().model.info!.spec) } : {}) });
          }} data-testid="alloc-sparsity-method">
            {SPARSITY_METHODS.map((m) => <option key={m} value={m}>{m}</option>)}
          </select>
        </label>
      ) : null}
      {a.strategy === 'owl' ? (
        <label title="half-width of the sparsity spread around the mean (OWL's lambda)">
          lambda{' '}
          <input type="number" min={0} max={0.5} step={0.01} value={a.lambda} onChange={(e) => set({ lambda: Math.min(0.5, Math.max(0, Number(e.target.value) || 0)) })} style={{ width: '5em' }} data-testid="alloc-lambda" />
        </label>
      ) : null}
      {painted && ordered && !(a.knob === 'sparsity' && a.sparsityMethod === '2:4') ? (
        <label title="0: every block the same; 1: the most important block at twice the mean, the least at zero">
          spread{' '}
          <input type="number" min={0} max={1} step={0.1} value={a.spread} onChange={(e) => set({ spread: Math.min(1, Math.max(0, Number(e.target.value) || 0)) })} style={{ width: '5em' }} data-testid="alloc-spread" />
        </label>
      ) : null}
      {a.knob === 'mixed' ? (
        <>
          <label>
            budget{' '}
            <select value={a.solveBudget} onChange={(e) => { const solveBudget = e.target.value as 'bpw' | 'params'; set({ solveBudget, budget: defaultBudget({ ...a, solveBudget }, workbench.getState().model.info!.spec) }); }} data-testid="alloc-solve-budget">
              <option value="params">parameter ratio</option>
              <option value="bpw">bits per weight</option>
            </select>
          </label>
          <fieldset className="row" style={{ border: 'none', padding: 0, margin: 0 }}>
            <legend className="small">drop options</legend>
            {DROP_KINDS.map((d) => (
              <label key={d} className="check">
                <input type="checkbox" checked={a.solveDrops.includes(d)} onChange={(e) => set({ solveDrops: e.target.checked ? [...a.solveDrops, d] : a.solveDrops.filter((x) => x !== d) })} data-testid={`alloc-solve-drop-${d}`} />
                {d}
              </label>
            ))}
          </fieldset>
          <fieldset className="row" style={{ border: 'none', padding: 0, margin: 0 }}>
            <legend className="small">formats</legend>
            {SOLVE_FORMATS.map((f) => (
              <label key={f} className="check">
                <input type="checkbox" checked={a.solveFormats.includes(f)} onChange={(e) => set({ solveFormats: e.target.checked ? SOLVE_FORMATS.filter((x) => x === f || a.solveFormats.includes(x)) : a.solveFormats.filter((x) => x !== f) })} data-testid={`alloc-solve-format-${f}`} />
                {f}
              </label>
            ))}
          </fieldset>
          <label title="rank options as fractions of each matrix's break-even rank, comma-separated (empty: no ranks)">
            ranks{' '}
            <input value={a.solveRanks} onChange={(e) => set({ solveRanks: e.target.value })} placeholder="0.25,0.5" style={{ width: '8em' }} data-testid="alloc-solve-ranks" />
          </label>
        </>
      ) : null}
      {(a.strategy === 'ranked' || a.strategy === 'reverse') ? (
        <label>
          metric{' '}
          <select value={a.metric} onChange={(e) => set({ metric: e.target.value })} data-testid="alloc-metric">
            {(metricIds.includes(a.metric) ? metricIds : [a.metric, ...metricIds]).map((m) => <option key={m} value={m}>{m}</option>)}
          </select>
        </label>
      ) : null}
      {a.strategy === 'random' ? (
        <label>
          seed{' '}
          <input type="number" value={a.seed} onChange={(e) => set({ seed: Math.round(Number(e.target.value) || 0) })} style={{ width: '5em' }} data-testid="alloc-seed" />
        </label>
      ) : null}
    </>
  );
}

function isTextTarget(t: EventTarget | null): boolean {
  const el = t as HTMLElement | null;
  return !!el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable);
}

function BrushPicker() {
  const brush = useWorkbench((s) => s.allocation.brush);
  const set = (b: Brush) => patchAllocation(workbench, { brush: b });
  return (
    <div className="row" role="group" aria-label="brush">
      <label>
        brush{' '}
        <select
          value={brush.kind}
          data-testid="alloc-brush"
          onChange={(e) => {
            const k = e.target.value as Brush['kind'];
            set(k === 'format' ? { kind: 'format', format: 'Q4_0' } : k === 'rank' ? { kind: 'rank', rank: 16 } : k === 'sparsity' ? { kind: 'sparsity', ratio: 0.5 } : k === 'kv' ? { kind: 'kv', bits: 4 } : { kind: k } as Brush);
          }}
        >
          <option value="format">format</option>
          <option value="drop">drop (toggle)</option>
          <option value="rank">rank</option>
          <option value="sparsity">sparsity</option>
          <option value="kv">KV bits</option>
          <option value="clear">clear</option>
        </select>
      </label>
      {brush.kind === 'format' ? (
        <select value={brush.format} onChange={(e) => set({ kind: 'format', format: e.target.value })} aria-label="brush format" data-testid="alloc-brush-format">
          {FORMAT_CHOICES.map((f) => <option key={f} value={f}>{f}</option>)}
        </select>
      ) : null}
      {brush.kind === 'rank' ? (
        <input type="number" min={1} value={brush.rank} onChange={(e) => set({ kind: 'rank', rank: Math.max(1, Math.round(Number(e.target.value) || 1)) })} aria-label="brush rank" data-testid="alloc-brush-rank" style={{ width: '6em' }} />
      ) : null}
      {brush.kind === 'sparsity' ? (
        <input type="number" min={0} max={95} step={5} value={Math.round(brush.ratio * 100)} onChange={(e) => set({ kind: 'sparsity', ratio: Math.min(0.95, Math.max(0, Number(e.target.value) / 100)) })} aria-label="brush sparsity percent" style={{ width: '6em' }} />
      ) : null}
      {brush.kind === 'kv' ? (
        <select value={brush.bits} onChange={(e) => set({ kind: 'kv', bits: Number(e.target.value) })} aria-label="brush KV bits">
          {KV_BITS.map((b) => <option key={b} value={b}>{b}</option>)}
        </select>
      ) : null}
    </div>
  );
}

function PlanGrid() {
  const info = useWorkbench((s) => s.model.info);
  const plan = useWorkbench((s) => s.allocation.plan);
  const brush = useWorkbench((s) => s.allocation.brush);
  // The stroke in progress: set or clear (decided by its first cell) and the last cell painted.
  const stroke = useRef<{ set: boolean; last: string } | null>(null);
  const spec = info?.spec ?? null;
  const cols = useMemo(() => (spec ? gridColumns(spec) : []), [spec]);
  const est = useMemo(() => (spec && info ? estimatePlanSize(spec, info.tensors, plan) : null), [spec, info, plan]);
  const fallbacks = useMemo(() => new Map((est?.fallbacks ?? []).map((f) => [f.name, f.to])), [est]);
  useEffect(() => {
    const up = () => {
      if (stroke.current) {
        stroke.current = null;
        endStroke(workbench);
      }
    };
    window.addEventListener('pointerup', up);
    window.addEventListener('pointercancel', up);
    return () => {
      window.removeEventListener('pointerup', up);
      window.removeEventListener('pointercancel', up);
    };
  }, []);
  if (!spec) return null;
  const current = () => workbench.getState().allocation.plan ?? blankPlan(spec);
  const paint = (layer: number, col: GridColumn, set: boolean) => {
    try {
      strokePaint(workbench, paintCell(current(), spec, layer, col, workbench.getState().allocation.brush, set));
    } catch (e) {
      patchAllocation(workbench, { error: { message: (e as Error).message, during: 'editing the plan' } });
    }
  };
  const start = (layer: number, col: GridColumn) => {
    const cur = current();
    if (!workbench.getState().allocation.plan) commitPlan(workbench, cur, workbench.getState().model.serial);
    const set = strokeSets(cur, layer, col, workbench.getState().allocation.brush);
    stroke.current = { set, last: `${layer}:${colKey(col)}` };
    beginStroke(workbench);
    paint(layer, col, set);
  };
  return (
    <div className="plan-grid-wrap" style={{ overflowX: 'auto' }}>
      <table
        className="plan-grid"
        data-testid="alloc-grid"
        style={{ borderCollapse: 'collapse', userSelect: 'none', touchAction: 'none' }}
        onPointerMove={(e) => {
          // the cell under the pointer (mouse, pen or touch: a touch keeps its first target, so hit-test)
          const st = stroke.current;
          if (!st) return;
          const el = (document.elementFromPoint(e.clientX, e.clientY) as HTMLElement | null)?.closest<HTMLElement>('[data-cell]');
          const key = el?.dataset.cell;
          if (!el || !key || key === st.last) return;
          st.last = key;
          const col = cols.find((c) => colKey(c) === el.dataset.col);
          if (col) paint(Number(el.dataset.layer), col, st.set);
        }}
      >
        <caption className="chart-caption" style={{ captionSide: 'bottom', textAlign: 'left' }}>
          What am I looking at: one row per block, one column per weight matrix, then the attention / MLP / block drops and the K/V cache
          bits. Paint with the brush ({brushLabel(brush)}): click a cell or drag across cells; the first cell of a drag decides set or clear.
          Lower bits where the importance metrics say a layer matters least (Layer-Wise Quantization, arXiv 2406.17415); drop attention
          before MLP (LLM-Drop, arXiv 2406.15786); KV bits per layer (KVTuner, arXiv 2502.04420).
        </caption>
        <thead>
          <tr>
            <th scope="col">block</th>
            {cols.map((c) => <th key={colKey(c)} scope="col" className="mono" style={{ padding: '2px 6px' }}>{columnLabel(c)}</th>)}
          </tr>
        </thead>
        <tbody>
          {Array.from({ length: spec.nLayers }, (_, l) => (
            <tr key={l}>
              <th scope="row" className="mono">{l}</th>
              {cols.map((c) => {
                const v = cellView(plan, l, c, fallbacks);
                const text = c.kind === 'kv'
                  ? (v.kvBits !== null ? `${v.kvBits}b` : '·')
                  : c.kind === 'attn' || c.kind === 'mlp' ? (v.dropped ? 'dropped' : 'kept')
                  : c.kind === 'block' ? [v.dropped ? 'dropped' : '', v.format ?? ''].filter(Boolean).join(' ') || '·'
                  : [v.format ?? '', v.fallback && v.fallback !== v.format ? `→${v.fallback}` : '', v.rank !== null ? `r${v.rank}` : '', v.sparsity !== null ? `s${Math.round(v.sparsity * 100)}%` : ''].filter(Boolean).join(' ') || '·';
                return (
                  <td key={colKey(c)} style={{ padding: 0 }}>
                    <button
                      type="button"
                      className="mono small"
                      data-testid={`alloc-cell-${l}-${colKey(c)}`}
                      data-format={v.format ?? ''}
                      data-dropped={String(v.dropped)}
                      data-rank={v.rank ?? ''}
                      aria-label={`block ${l} ${columnLabel(c)}: ${text}`}
                      title={v.fallback && v.fallback !== v.format ? `stored as ${v.fallback} (row length does not fit ${v.format})` : `block ${l} ${columnLabel(c)}`}
                      style={{ width: '100%', minWidth: '5.5em', opacity: v.dropped ? 0.5 : 1, background: c.kind === 'tensor' || c.kind === 'block' ? formatTint(v.fallback ?? v.format) : undefined, textDecoration: v.dropped && c.kind === 'tensor' ? 'line-through' : undefined, fontWeight: v.inherited ? 'normal' : 'bold' }}
                      data-cell={`${l}:${colKey(c)}`}
                      data-layer={l}
                      data-col={colKey(c)}
                      onPointerDown={(e) => {
                        if (e.button !== 0) return;
                        e.preventDefault();
                        (e.target as Element).releasePointerCapture?.(e.pointerId);
                        start(l, c);
                      }}
                      onClick={(e) => {
                        // keyboard activation (Enter / Space) has detail 0; pointer clicks were painted on pointerdown
                        if (e.detail !== 0) return;
                        start(l, c);
                        stroke.current = null;
                        endStroke(workbench);
                      }}
                    >
                      {text}
                    </button>
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function PlanJson() {
  const plan = useWorkbench((s) => s.allocation.plan);
  const draft = useWorkbench((s) => s.allocation.draft);
  const [parseError, setParseError] = useState<string | null>(null);
  const shown = draft ?? (plan ? allocationJson(plan) : '');
  const download = () => {
    if (!plan) return;
    const url = URL.createObjectURL(new Blob([allocationJson(plan)], { type: 'application/json' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = 'allocation.json';
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  const apply = (text: string) => {
    const r = parsePlanText(text);
    if ('error' in r) setParseError(r.error);
    else {
      setParseError(null);
      commitPlan(workbench, r.plan, workbench.getState().model.serial);
    }
  };
  return (
    <details>
      <summary>Plan as JSON (layerlab.allocation/1)</summary>
      <textarea
        className="mono"
        rows={10}
        style={{ width: '100%' }}
        value={shown}
        spellCheck={false}
        aria-label="allocation JSON"
        data-testid="alloc-json"
        onChange={(e) => patchAllocation(workbench, { draft: e.target.value })}
      />
      <div className="row">
        <button type="button" disabled={draft === null} onClick={() => apply(draft ?? '')} data-testid="alloc-json-apply">Use this JSON</button>
        <label className="small">
          load a file{' '}
          <input type="file" accept=".json,application/json" onChange={(e) => void e.target.files?.[0]?.text().then(apply)} data-testid="alloc-json-file" />
        </label>
        <button type="button" disabled={!plan} onClick={download}>Download JSON</button>
      </div>
      {parseError ? <div className="error-box" role="alert"><div className="error-message">{parseError}</div><div className="error-hint">Paste an allocation JSON object, e.g. {'{"schema": "layerlab.allocation/1", "model": {...}, "layers": {"3": {"format": "Q4_0"}}}'}</div></div> : null}
    </details>
  );
}

export function AllocationPanel() {
  const a = useWorkbench((s) => s.allocation);
  const info = useWorkbench((s) => s.model.info);
  const serial = useWorkbench((s) => s.model.serial);
  const imp = useWorkbench((s) => s.importance.result);
  const job = useWorkbench((s) => s.job);
  const spec = info?.spec ?? null;
  const scores = imp && imp.modelSerial === serial ? imp.scores : null;
  const metricIds = useMemo(() => (scores ?? []).filter((s) => s.perBlock.length === spec?.nLayers).map((s) => s.metricId), [scores, spec]);
  const slider = spec ? sliderSpec(a, spec) : null;
  // Live readout: the plan the controls would make, sized from the tensor table (no worker round trip).
  const preview = useMemo(() => (spec ? previewPlan(a, spec, scores) : null), [a, spec, scores]);
  const previewSize = useMemo(() => (spec && info ? estimatePlanSize(spec, info.tensors, preview) : null), [spec, info, preview]);
  const planSize = useMemo(() => (spec && info && a.plan ? estimatePlanSize(spec, info.tensors, a.plan) : null), [spec, info, a.plan]);

  useEffect(() => {
    const key = (e: KeyboardEvent) => {
      if (!(e.ctrlKey || e.metaKey) || e.key.toLowerCase() !== 'z' || isTextTarget(e.target)) return;
      e.preventDefault();
      if (e.shiftKey) redoPlan(workbench);
      else undoPlan(workbench);
    };
    window.addEventListener('keydown', key);
    return () => window.removeEventListener('keydown', key);
  }, []);

  const setKnob = (knob: AllocationKnob) => {
    if (!spec) return;
    const offered = strategiesFor(knob);
    const strategy = offered.includes(a.strategy) ? a.strategy : offered.includes('ranked') && a.strategy !== 'uniform' ? 'ranked' : offered[0];
    patchAllocation(workbench, { knob, strategy, budget: defaultBudget({ ...a, knob, strategy }, spec) });
  };
  const setStrategy = (strategy: StrategyName) => {
    if (!spec) return;
    const next = { ...a, strategy };
    // keep the slider's value when its meaning does not change
    const same = JSON.stringify(sliderSpec(next, spec)) === JSON.stringify(sliderSpec(a, spec));
    patchAllocation(workbench, { strategy, budget: same ? a.budget : defaultBudget(next, spec) });
  };
  const usesStrategy = knobUsesStrategy(a.knob, a.strategy);
  const paramsBudget = usesParamsBudget(a);
  const info1 = strategyInfo(a.knob, a.strategy);
  const stale = a.plan !== null && a.planSerial !== serial;

  return (
    <Panel
      id="allocation"
      title="Allocation"
      wide
      intro="Turn importance into a per-layer plan: fewer bits, dropped sublayers, lower rank, sparsity or fewer KV-cache bits where the layers matter least. The plan is a JSON document (layerlab.allocation/1) the Compare panel runs."
    >
      {!spec ? <p className="muted">Load a model first.</p> : (
        <>
          {info?.format === 'onnx' ? <p className="muted small-print" data-testid="alloc-onnx-note">{ONNX_ALLOCATION_NOTE}</p> : null}
          <div className="row fields">
            <label>
              knob{' '}
              <select value={a.knob} onChange={(e) => setKnob(e.target.value as AllocationKnob)} data-testid="alloc-knob">
                {ALLOCATION_KNOBS.map((k) => <option key={k.id} value={k.id}>{k.label}</option>)}
              </select>
            </label>
            <label>
              strategy{' '}
              <select value={a.strategy} onChange={(e) => setStrategy(e.target.value as StrategyName)} data-testid="alloc-strategy">
                {strategiesFor(a.knob).map((x) => <option key={x} value={x}>{x}</option>)}
              </select>
            </label>
            {a.knob === 'format' && a.strategy !== 'solve' ? (
              <label>
                {a.strategy === 'uniform' ? 'format' : 'kept blocks at'}{' '}
                <select value={a.highFormat} onChange={(e) => patchAllocation(workbench, { highFormat: e.target.value })} data-testid="alloc-high">
                  {FORMAT_CHOICES.map((f) => <option key={f} value={f}>{f}</option>)}
                </select>
              </label>
            ) : null}
            {a.knob === 'format' && a.strategy !== 'solve' && a.strategy !== 'uniform' ? (
              <label>
                moved blocks to{' '}
                <select value={a.lowFormat} onChange={(e) => patchAllocation(workbench, { lowFormat: e.target.value })} data-testid="alloc-low">
                  {FORMAT_CHOICES.map((f) => <option key={f} value={f}>{f}</option>)}
                </select>
              </label>
            ) : null}
            <StrategyOptions a={a} metricIds={metricIds} />
          </div>
          {info1 ? <p className="muted small" data-testid="alloc-strategy-info">{info1}</p> : null}
          {slider && slider.max > slider.min ? (
            <div className="row">
              <label>
                {slider.label}{' '}
                <input
                  type="range"
                  min={slider.min}
                  max={slider.max}
                  step={slider.step}
                  value={a.budget}
                  onChange={(e) => patchAllocation(workbench, { budget: Number(e.target.value) })}
                  data-testid="alloc-budget"
                />
              </label>
              <span className="mono" data-testid="alloc-budget-value">{a.budget}</span>
            </div>
          ) : null}
          <p
            className="mono"
            data-testid="alloc-estimate"
            data-bytes={previewSize ? String(previewSize.bytes) : ''}
            data-bpw={previewSize ? String(previewSize.bitsPerWeight) : ''}
            data-params={previewSize ? String(previewSize.paramRatio) : ''}
            aria-live="polite"
          >
            {a.strategy === 'solve'
              ? `budget ${a.budget} ${paramsBudget ? "of the blocks' linear-weight parameters" : 'bits per weight over the block matrices'} (the solver picks ${a.knob === 'mixed' ? 'keep / drop / format / rank' : 'formats'} per block from the sensitivity measured on the calibration text)`
              : previewSize
                ? `this setting: ${sizeLine(previewSize, a.knob === 'rank' || a.knob === 'sparsity' || paramsBudget)}${paramsBudget ? ` (budget ${a.budget})` : ''}`
                : paramsBudget
                  ? `budget: parameter ratio ${a.budget} (the ${a.strategy === 'drank' ? 'effective ranks' : 'outlier ratios'} are measured on "Make plan"; run the weights metric in Importance for a live size)`
                  : '—'}
          </p>
          <div className="row">
            <button type="button" className="primary" disabled={job !== null} onClick={() => void makePlan()} data-testid="alloc-make">
              {usesStrategy || a.strategy !== 'uniform' ? 'Make plan' : 'Apply to every block'}
            </button>
            <button type="button" disabled={!a.running} onClick={() => void cancelJob()}>Cancel</button>
            <button type="button" disabled={a.past.length === 0} onClick={() => undoPlan(workbench)} data-testid="alloc-undo" aria-keyshortcuts="Control+Z" title="Undo (Ctrl+Z)">Undo</button>
            <button type="button" disabled={a.future.length === 0} onClick={() => redoPlan(workbench)} data-testid="alloc-redo" aria-keyshortcuts="Control+Shift+Z" title="Redo (Ctrl+Shift+Z)">Redo</button>
            <button type="button" disabled={!a.plan} onClick={() => commitPlan(workbench, blankPlan(spec), serial)} data-testid="alloc-clear">Clear plan</button>
            <button type="button" disabled={!a.plan || job !== null} onClick={() => void runCompare()} data-testid="alloc-compare">Compare this plan</button>
          </div>
          {a.running ? <ProgressBar progress={a.progress} label="making the plan" testId="alloc-progress" /> : null}
          {a.note ? <p className="muted" data-testid="alloc-note">{a.note}</p> : null}
          {stale ? <p className="warn">This plan was made for another model: make a new one.</p> : null}
          <BrushPicker />
          <PlanGrid />
          {planSize ? (
            <p className="mono" data-testid="alloc-plan-size" data-bytes={String(planSize.bytes)} data-bpw={String(planSize.bitsPerWeight)} data-params={String(planSize.paramRatio)}>
              plan: {sizeLine(planSize, false)}
              {planSize.fallbacks.length ? `; ${planSize.fallbacks.length} fallback${planSize.fallbacks.length === 1 ? '' : 's'} (row length does not fit the block size: hover a cell)` : ''}
            </p>
          ) : null}
          {planSize && planSize.errors.length ? (
            <div className="error-box" role="alert" data-testid="alloc-errors">
              <div className="error-title">The plan is not valid</div>
              <ul>
                {planSize.errors.map((e, i) => (
                  <li key={i}>
                    <span className="mono">{e.path || '(root)'}</span>: <span className="error-message">{e.message}</span>
                    {e.allowed ? <div className="error-hint">allowed: {e.allowed}</div> : null}
                  </li>
                ))}
              </ul>
            </div>
          ) : null}
          <PlanJson />
        </>
      )}
      <ErrorBox error={a.error} onDismiss={() => patchAllocation(workbench, { error: null })} testId="alloc-error" />
    </Panel>
  );
}
