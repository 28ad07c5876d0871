// "Will it fit?" before loading: pick local files (or use the hub repo typed above) and see the model's
// size and its largest tensor against the adapter's limits (src/core/formats/fit.ts) before committing
// to the load; the load then uses the CPU backend when the GPU cannot hold a tensor.
import { useRef, useState } from 'react';
import { useWorkbench } from '../store/index.ts';
import { checkHubRepo, checkLocalFiles, type FitCheck } from '../actions/fit-check.ts';
import { loadFromHub, loadLocalFiles } from '../actions/load-model.ts';
import { fmtBytes } from './format.ts';

type Checked = (FitCheck & { kind: 'local'; list: File[] }) | (FitCheck & { kind: 'hub'; repo: string; file: string });

export function FitCheckSection(props: { busy: boolean }) {
  const hubRepo = useWorkbench((s) => s.model.hubRepo);
  const hubFile = useWorkbench((s) => s.model.hubFile);
  const input = useRef<HTMLInputElement>(null);
  const [checked, setChecked] = useState<Checked | null>(null);
  const [checking, setChecking] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const run = async (f: () => Promise<Checked>) => {
    setChecking(true);
    setError(null);
    setChecked(null);
    try {
      setChecked(await f());
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setChecking(false);
    }
  };
  const load = () => {
    if (!checked) return;
    const backend = checked.estimate.verdict === 'cpu' ? 'cpu' : 'auto';
    setChecked(null);
    if (checked.kind === 'local') void loadLocalFiles(checked.list, backend);
    else void loadFromHub(checked.repo, checked.file, backend);
  };
  const e = checked?.estimate;
  return (
    <div className="fit-check" data-testid="fit-check">
      <h3>Will it fit? (before loading)</h3>
      <p className="muted small-print">
        Reads only the files' sizes and their tensor tables (the GGUF or safetensors header) and compares the largest tensor with this adapter's storage binding limit: a WebGPU weight must fit one binding.
      </p>
      <div className="row">
        <button type="button" disabled={props.busy || checking} onClick={() => input.current?.click()} data-testid="fit-check-files">
          Check local files…
        </button>
        <button type="button" disabled={props.busy || checking || hubRepo.trim() === ''} onClick={() => void run(async () => ({ kind: 'hub', file: hubFile, ...(await checkHubRepo(hubRepo, hubFile)) }))} data-testid="fit-check-hub">
          Check the hub repo
        </button>
      </div>
      <input
        ref={input}
        type="file"
        multiple
        hidden
        data-testid="fit-check-input"
        accept=".gguf,.bin,.safetensors,.json,.onnx,.onnx_data,.data"
        onChange={(ev) => {
          const list = [...(ev.currentTarget.files ?? [])];
          ev.currentTarget.value = '';
          if (list.length) void run(async () => ({ kind: 'local', list, ...(await checkLocalFiles(list)) }));
        }}
      />
      {checking ? <p className="muted">Reading the headers…</p> : null}
      {error ? (
        <p role="alert" data-testid="fit-check-error" style={{ color: 'var(--bad)' }}>
          Could not check: {error}
        </p>
      ) : null}
      {checked && e ? (
        <div data-testid="fit-check-result" data-verdict={e.verdict}>
          <p
            data-testid="fit-check-text"
            style={{ borderLeft: `4px solid var(${e.verdict === 'gpu' ? '--ok' : e.verdict === 'too-big' ? '--bad' : '--warn'})`, paddingLeft: 8, color: `var(${e.verdict === 'gpu' ? '--ok' : e.verdict === 'too-big' ? '--bad' : '--warn'})`, fontWeight: 600 }}
          >
            {e.text}
          </p>
          <p className="muted small-print">
            {checked.files.map((f) => `${f.name} (${Number.isFinite(f.size) ? fmtBytes(f.size) : 'size unknown'})`).join(', ')}
            {e.tensors !== null ? ` · ${e.tensors} tensors` : ''} · adapter: {checked.adapter}
          </p>
          <div className="row">
            <button type="button" className="primary" disabled={props.busy || e.verdict === 'too-big'} onClick={load} data-testid="fit-check-load">
              {e.verdict === 'cpu' ? 'Load on the CPU backend' : 'Load'}
            </button>
            <button type="button" onClick={() => setChecked(null)}>
              Dismiss
            </button>
          </div>
        </div>
      ) : null}
    </div>
  );
}
