// Generate panel: prompt, number of tokens, temperature / top-k / top-p / seed, tokens streamed as the
// worker produces them, tokens per second, and a cancel button.
import { patchGeneration, useWorkbench, workbench, type GenerationState } from '../store/index.ts';
import { generate } from '../actions/generate.ts';
import { cancelJob } from '../actions/engine.ts';
import { displayPiece } from './pieces.ts';
import { fmtRate } from './format.ts';
import { ErrorBox, Panel } from './widgets.tsx';

type NumKey = 'maxTokens' | 'temperature' | 'topK' | 'topP' | 'seed';

function NumberField(props: { k: NumKey; label: string; min: number; max: number; step: number; value: number; help: string }) {
  const { k, label, min, max, step, value, help } = props;
  return (
    <label className="num" title={help}>
      <span className="label">{label}</span>
      <input
        type="number"
        min={min}
        max={max}
        step={step}
        value={Number.isFinite(value) ? value : ''}
        data-testid={`gen-${k}`}
        onChange={(e) => {
          const v = e.currentTarget.valueAsNumber;
          if (Number.isFinite(v)) patchGeneration(workbench, { [k]: Math.min(max, Math.max(min, v)) } as Partial<GenerationState>);
        }}
      />
    </label>
  );
}

export function GeneratePanel() {
  const g = useWorkbench((s) => s.generation);
  const info = useWorkbench((s) => s.model.info);
  const job = useWorkbench((s) => s.job);
  const kind = info?.tokenizer.kind;
  const streamed = g.pieces.map((p) => displayPiece(p, kind)).join('');
  const out = g.text ?? streamed;
  const ctx = info?.spec.contextLength ?? 2048;
  return (
    <Panel id="generate" title="Generate" intro="Sampling runs in the worker; tokens appear as they are produced. Temperature 0 is greedy (deterministic).">
      <label className="block">
        <span className="label">Prompt</span>
        <textarea rows={2} value={g.prompt} data-testid="gen-prompt" onChange={(e) => patchGeneration(workbench, { prompt: e.currentTarget.value })} />
      </label>
      <div className="row fields">
        <NumberField k="maxTokens" label="Tokens" min={1} max={ctx} step={1} value={g.maxTokens} help="How many new tokens to generate" />
        <NumberField k="temperature" label="Temperature" min={0} max={5} step={0.1} value={g.temperature} help="0 = greedy (always the most likely token)" />
        <NumberField k="topK" label="Top-k" min={0} max={info?.spec.vocabSize ?? 100000} step={1} value={g.topK} help="Keep only the k most likely tokens (0 = all)" />
        <NumberField k="topP" label="Top-p" min={0.01} max={1} step={0.05} value={g.topP} help="Keep the smallest set of tokens whose probability reaches p (1 = all)" />
        <NumberField k="seed" label="Seed" min={0} max={2 ** 31 - 1} step={1} value={g.seed} help="Random seed: the same seed gives the same text" />
      </div>
      <div className="row">
        <button type="button" className="primary" disabled={!info || g.running || job !== null} onClick={() => void generate()} data-testid="gen-run">
          Generate
        </button>
        <button type="button" disabled={!g.running} onClick={() => void cancelJob()} data-testid="gen-cancel">
          Cancel
        </button>
        <span className="muted" data-testid="gen-rate">
          {g.ids.length > 0 ? `${g.ids.length} tokens · ${fmtRate(g.tokensPerSecond)} tokens/s` : ''}
          {g.prefillTokensPerSecond !== null ? ` · prompt ${fmtRate(g.prefillTokensPerSecond)} tokens/s` : ''}
          {g.cancelled ? ' · cancelled' : ''}
        </span>
      </div>
      <div className="gen-output" aria-live="polite" data-testid="gen-output" data-done={g.text !== null ? 'true' : 'false'} data-ids={g.ids.join(',')}>
        {g.ids.length > 0 || g.running ? (
          <>
            <span className="prompt-echo">{g.prompt}</span>
            <span>{out}</span>
            {g.running ? <span className="cursor" aria-hidden="true">▌</span> : null}
          </>
        ) : (
          <span className="muted">The continuation appears here.</span>
        )}
      </div>
      <ErrorBox error={g.error} onDismiss={() => patchGeneration(workbench, { error: null })} testId="gen-error" />
    </Panel>
  );
}
