// The page header: name, model status, adapter line and the theme toggle.
import type { ModelInfo } from '../worker/api.ts';
import { patchUi, useWorkbench, workbench } from '../store/index.ts';
import { fmtParams } from './format.ts';

export function adapterLine(info: ModelInfo | null): { text: string; tone: 'ok' | 'warn' | 'muted' } {
  if (!info) return { text: 'adapter: not known until a model loads', tone: 'muted' };
  const b = info.backend;
  if (b.kind === 'cpu') return { text: 'no WebGPU: running on the CPU backend (small models only)', tone: 'warn' };
  if (b.software) return { text: `software adapter: numbers will be slow (${b.adapter})`, tone: 'warn' };
  return { text: `GPU: ${b.adapter}`, tone: 'ok' };
}

export function Header() {
  const model = useWorkbench((s) => s.model);
  const theme = useWorkbench((s) => s.ui.theme);
  const job = useWorkbench((s) => s.job);
  const adapter = adapterLine(model.info);
  let status: string;
  if (model.loading) {
    const p = model.loading.progress;
    const pct = p && p.total > 0 ? ` ${Math.round((100 * p.done) / p.total)}%` : '';
    status = `loading ${model.loading.label}…${pct}`;
  } else if (model.info) {
    status = `${model.info.spec.name}: ${model.info.spec.nLayers} layers, ${fmtParams(model.info.parameters)} parameters`;
  } else if (model.status === 'error') {
    status = 'no model loaded (see the error below)';
  } else {
    status = 'starting…';
  }
  const next = theme === 'dark' ? 'light' : 'dark';
  return (
    <header className="app-header">
      <div className="brand">
        <h1>LayerLab</h1>
        <span className="tagline">which layers matter, measured on your GPU</span>
      </div>
      <div className="header-status">
        <div data-testid="model-status" data-status={model.info ? 'ready' : model.status} aria-live="polite">
          <span className={`dot ${model.info ? 'ok' : model.status === 'error' ? 'bad' : 'busy'}`} aria-hidden="true" /> {status}
        </div>
        <div data-testid="adapter-line" className={`adapter ${adapter.tone}`}>{adapter.text}</div>
        {job ? <div className="muted" data-testid="job-line">running: {job.label}</div> : null}
      </div>
      <button
        type="button"
        className="theme-toggle"
        aria-label={`switch to the ${next} theme`}
        onClick={() => {
          patchUi(workbench, { theme: next, themeChosen: true });
          try {
            localStorage.setItem('layerlab-theme', next);
          } catch {
            // storage may be unavailable (private mode); the choice lasts for this page
          }
        }}
      >
        {theme === 'dark' ? '☀ Light' : '☾ Dark'}
      </button>
    </header>
  );
}
