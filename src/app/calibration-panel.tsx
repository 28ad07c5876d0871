// Calibration panel: preset texts (story, encyclopaedic prose, code), the user's own text or a text
// file, the token count and the token view.
import { useRef } from 'react';
import { useWorkbench } from '../store/index.ts';
import { loadTextFile, setCalibrationText } from '../actions/calibration.ts';
import { PRESETS } from './presets.ts';
import { fmtInt } from './format.ts';
import { Panel } from './widgets.tsx';
import { TokenView } from './token-view.tsx';

export function CalibrationPanel() {
  const cal = useWorkbench((s) => s.calibration);
  const info = useWorkbench((s) => s.model.info);
  const serial = useWorkbench((s) => s.model.serial);
  const fileInput = useRef<HTMLInputElement>(null);
  const tokens = cal.tokens && cal.tokens.text === cal.text && cal.tokens.modelSerial === serial ? cal.tokens : null;
  const words = cal.text.trim() ? cal.text.trim().split(/\s+/).length : 0;
  return (
    <Panel id="calibration" title="Calibration text" intro="The text the model reads for perplexity and importance. Importance depends on it: try all three kinds.">
      <div className="row" role="radiogroup" aria-label="preset texts">
        {PRESETS.map((p) => (
          <button
            key={p.id}
            type="button"
            role="radio"
            aria-checked={cal.presetId === p.id}
            className={cal.presetId === p.id ? 'chip on' : 'chip'}
            data-testid={`preset-${p.id}`}
            onClick={() => setCalibrationText(p.text, p.id)}
          >
            {p.label}
          </button>
        ))}
        <button type="button" className="chip" onClick={() => fileInput.current?.click()}>
          Text file…
        </button>
        <input
          ref={fileInput}
          type="file"
          hidden
          accept=".txt,.md,.py,.js,.ts,.json,.csv,text/*"
          data-testid="text-file-input"
          onChange={(e) => {
            const f = e.currentTarget.files?.[0];
            e.currentTarget.value = '';
            if (f) void loadTextFile(f);
          }}
        />
      </div>
      <label className="block">
        <span className="label">{cal.fileName ? `Text from ${cal.fileName}` : cal.presetId ? 'Preset text (edit it to make it your own)' : 'Your text'}</span>
        <textarea
          value={cal.text}
          rows={8}
          spellCheck={false}
          data-testid="calibration-text"
          onChange={(e) => setCalibrationText(e.currentTarget.value, null, null)}
        />
      </label>
      {cal.error ? <p className="warn" role="alert">{cal.error}</p> : null}
      <p data-testid="token-count" data-value={tokens ? String(tokens.ids.length) : ''}>
        {fmtInt(words)} words,{' '}
        {tokens ? (
          <>
            <b>{fmtInt(tokens.ids.length)} tokens</b>
            {info && tokens.ids.length > info.spec.contextLength ? (
              <span className="muted"> (longer than the context of {fmtInt(info.spec.contextLength)}: NLL uses windows; importance reads the first tokens)</span>
            ) : null}
          </>
        ) : info ? (
          'tokenizing…'
        ) : (
          'tokens appear when a model is loaded'
        )}
      </p>
      {tokens ? <TokenView ids={tokens.ids} pieces={tokens.pieces} tokenizerKind={info?.tokenizer.kind} bosId={info?.tokenizer.bosId} /> : null}
    </Panel>
  );
}
