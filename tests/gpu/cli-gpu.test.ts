// The `layerlab` CLI on the GPU backend (Dawn in this process): main(argv, out, err) with fake streams,
// `generate --backend gpu --json` on stories260K against the independent greedy reference and `logits`
// against run.c's logits; the output names the adapter that ran it.
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { expectAllClose } from '../helpers/close.ts';
import { skipGpu } from '../helpers/gpu.ts';
import { modelPath } from '../helpers/models.ts';
import { storiesGreedy, storiesLogits } from '../helpers/parity.ts';

const run = runCli;

const L2C = modelPath('stories260K/stories260K.bin');

describe.skipIf(skipGpu)('layerlab --backend gpu', () => {
  it('generate --json: 64 greedy ids equal refs/stories260K/greedy.json; the JSON names the GPU adapter', async () => {
    const g = storiesGreedy();
    const r = await run(['generate', '--model', L2C, '--backend', 'gpu', '--prompt', 'Once upon a time', '--tokens', '64', '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.backend.kind).toBe('gpu');
    expect(j.backend.adapter.length).toBeGreaterThan(0);
    expect(typeof j.backend.software).toBe('boolean');
    expect(j.promptIds).toEqual(g.prompt_ids);
    expect(j.generatedIds).toEqual(g.generated_ids);
  });

  it('logits (human-readable and --json): within 1e-4 of run.c; the text says which adapter ran it', async () => {
    const ref = storiesLogits();
    const r = await run(['logits', '--model', L2C, '--backend', 'gpu', '--text', 'Once upon a time', '--json']);
    expect(r.code).toBe(0);
    expectAllClose(JSON.parse(r.out).logits.flat(), ref.logits.flat(), { atol: 1e-4, rtol: 0 }, 'CLI GPU logits');
    const h = await run(['logits', '--model', L2C, '--backend', 'gpu', '--text', 'Once upon a time']);
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/\nbackend: gpu \(.+\)/);
  });
});
