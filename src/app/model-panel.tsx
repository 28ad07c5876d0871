// Model panel: the loaded model's facts, the models of the models directory, local files (drop or
// pick; a folder for safetensors), a Hugging Face repo id, the load progress and the load error.
import { useEffect, useRef, useState } from 'react';
import type { ModelInfo } from '../worker/api.ts';
import { patchModel, useWorkbench, workbench } from '../store/index.ts';
import { loadEntry, loadFromHub, loadLocalFiles } from '../actions/load-model.ts';
import { fmtBytes, fmtInt, fmtParams } from './format.ts';
import { ErrorBox, Panel, ProgressBar } from './widgets.tsx';
import { FitCheckSection } from './fit-check.tsx';

const DEFAULT_BINDING = 128 * 1024 * 1024;

/** Whether the loaded model fits the backend's limits, in words. */
export function fitLine(info: ModelInfo): { ok: boolean; text: string } {
  const largest = info.tensors.reduce((a, t) => Math.max(a, t.bytes), 0);
  if (info.backend.kind === 'cpu') {
    const ok = info.weightBytes <= 2 * 1024 ** 3;
    return { ok, text: `${ok ? 'fits' : 'too large for'} the CPU backend: ${fmtBytes(info.weightBytes)} of weights in JavaScript memory` };
  }
  const limits = (info.backend as { limits?: { maxStorageBufferBindingSize?: number; maxBufferSize?: number } }).limits;
  const binding = limits?.maxStorageBufferBindingSize ?? DEFAULT_BINDING;
  const ok = largest <= binding;
  return {
    ok,
    text:
      `${ok ? 'fits' : 'may not fit'}: largest tensor ${fmtBytes(largest)}, storage binding limit ${fmtBytes(binding)}` +
      `${limits ? '' : ' (WebGPU default; the adapter may allow more)'}; ${fmtBytes(info.backend.weightBytes)} resident on the GPU`,
  };
}

function ModelFacts({ info }: { info: ModelInfo }) {
  const s = info.spec;
  const fit = fitLine(info);
  const types = Object.entries(info.tensorTypes)
    .sort((a, b) => b[1] - a[1])
    .map(([t, n]) => `${t} ×${n}`)
    .join(', ');
  const rows: [string, string, string][] = [
    ['name', 'Model', s.name],
    ['arch', 'Architecture', `${s.arch} (${s.norm.kind === 'rms' ? 'RMSNorm' : 'LayerNorm'}, ${s.mlp === 'silu-gate' ? 'SwiGLU MLP' : 'GELU MLP'}, ${s.rope.kind === 'none' ? (info.format === 'onnx' ? 'positions computed inside the ONNX graph' : 'learned positions') : `RoPE θ=${s.rope.theta}`})`],
    ['format', 'File format', info.format],
    ['layers', 'Layers', String(s.nLayers)],
    ['width', 'Width / MLP', `${s.dModel} / ${s.dFF}`],
    ['heads', 'Heads / KV heads', `${s.nHeads} / ${s.nKvHeads} (head dim ${s.headDim})`],
    ['params', 'Parameters', `${fmtParams(info.parameters)} (${fmtInt(info.parameters)})`],
    ['types', 'Tensor formats', types],
    ['bytes', 'Weight bytes', `${fmtBytes(info.weightBytes)} (${fmtInt(info.weightBytes)} bytes)`],
    ['ctx', 'Context length', fmtInt(s.contextLength)],
    ['tokenizer', 'Tokenizer', `${info.tokenizer.kind}, ${fmtInt(info.tokenizer.vocabSize)} tokens, BOS ${info.tokenizer.bosId ?? '—'}${info.tokenizer.addBos ? ' (added)' : ''}, EOS ${info.tokenizer.eosId ?? '—'}`],
    ['backend', 'Runs on', `${info.backend.kind === 'gpu' ? 'WebGPU' : 'CPU'}: ${info.backend.adapter}`],
    ['fits', 'Fits the adapter', fit.text],
    ...(info.features
      ? [['onnx', 'ONNX model', `runs on onnxruntime-web: ${info.features.supported.join('; ')}. Needs a GGUF or safetensors file: ${info.features.needsNativeFile.join(', ')}`] as [string, string, string]]
      : []),
  ];
  return (
    <dl className="facts" data-testid="model-facts">
      {rows.map(([k, label, v]) => (
        <div key={k} className={k === 'fits' ? (fit.ok ? 'fact ok' : 'fact warn') : 'fact'}>
          <dt>{label}</dt>
          <dd data-testid={`fact-${k}`} data-value={k === 'params' ? String(info.parameters) : k === 'layers' ? String(s.nLayers) : undefined}>
            {v}
          </dd>
        </div>
      ))}
    </dl>
  );
}

export function ModelPanel() {
  const model = useWorkbench((s) => s.model);
  const job = useWorkbench((s) => s.job);
  const fileInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);
  const busy = model.loading !== null || job?.kind === 'load';

  useEffect(() => {
    // React's typings have no webkitdirectory; Chrome needs the attribute for folder picking.
    folderInput.current?.setAttribute('webkitdirectory', '');
  }, []);

  return (
    <Panel id="model" title="Model" intro="The bundled stories260K loads at start. Pick another model, drop files, or fetch one from the Hugging Face hub.">
      {model.info ? <ModelFacts info={model.info} /> : <p className="muted">No model loaded yet.</p>}
      {model.loading ? <ProgressBar progress={model.loading.progress} label={`loading ${model.loading.label}`} testId="load-progress" /> : null}
      <ErrorBox error={model.error} onDismiss={() => patchModel(workbench, { error: null })} testId="load-error" />

      <h3>Models on this server</h3>
      {model.catalogError ? <p className="muted">{model.catalogError}</p> : null}
      <ul className="catalog" data-testid="catalog">
        {model.catalog.map((e) => (
          <li key={e.key}>
            <button
              type="button"
              className={model.sourceKey === e.key ? 'catalog-item current' : 'catalog-item'}
              aria-current={model.sourceKey === e.key ? 'true' : undefined}
              disabled={busy}
              onClick={() => void loadEntry(e)}
            >
              <span>{e.label}</span>
              <span className="muted">{fmtBytes(e.bytes)}</span>
            </button>
          </li>
        ))}
      </ul>

      <h3>Local files</h3>
      <div
        className={over ? 'dropzone over' : 'dropzone'}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={() => setOver(false)}
      >
        <p>
          Drop a <b>.gguf</b>, a llama2.c <b>.bin</b> with its tokenizer <b>.bin</b>, or a Hugging Face folder (<b>config.json</b>, <b>tokenizer.json</b>, <b>*.safetensors</b>), or an ONNX causal LM (<b>.onnx</b> + its external data files + <b>tokenizer.json</b>; runs on onnxruntime-web with the activation and weight metrics and allocations; ablation, quantization scans and gradient metrics need a GGUF or safetensors file) anywhere on the page, or:
        </p>
        <div className="row">
          <button type="button" disabled={busy} onClick={() => fileInput.current?.click()}>
            Choose files…
          </button>
          <button type="button" disabled={busy} onClick={() => folderInput.current?.click()}>
            Choose a folder…
          </button>
        </div>
        <input
          ref={fileInput}
          type="file"
          multiple
          hidden
          data-testid="model-file-input"
          accept=".gguf,.bin,.safetensors,.json,.onnx,.onnx_data,.data"
          onChange={(e) => {
            const files = [...(e.currentTarget.files ?? [])];
            e.currentTarget.value = '';
            void loadLocalFiles(files);
          }}
        />
        <input
          ref={folderInput}
          type="file"
          multiple
          hidden
          data-testid="model-folder-input"
          onChange={(e) => {
            const files = [...(e.currentTarget.files ?? [])].filter((f) => /\.(gguf|bin|safetensors|json)$/i.test(f.name));
            e.currentTarget.value = '';
            void loadLocalFiles(files);
          }}
        />
      </div>

      <h3>Hugging Face hub</h3>
      <form
        className="hub"
        onSubmit={(e) => {
          e.preventDefault();
          void loadFromHub(model.hubRepo, model.hubFile);
        }}
      >
        <label>
          Repo id
          <input
            type="text"
            value={model.hubRepo}
            placeholder="owner/name"
            spellCheck={false}
            data-testid="hub-repo"
            onChange={(e) => patchModel(workbench, { hubRepo: e.currentTarget.value })}
          />
        </label>
        <label>
          File (optional)
          <input
            type="text"
            value={model.hubFile}
            placeholder="model-Q8_0.gguf"
            spellCheck={false}
            data-testid="hub-file"
            onChange={(e) => patchModel(workbench, { hubFile: e.currentTarget.value })}
          />
        </label>
        <button type="submit" disabled={busy || model.hubRepo.trim() === ''} data-testid="hub-load">
          Fetch and load
        </button>
      </form>
      <p className="muted small-print">Downloads are kept in this browser's Cache Storage, so a second visit loads without the network; an interrupted download resumes from the bytes already kept.</p>
      <FitCheckSection busy={busy} />
    </Panel>
  );
}
