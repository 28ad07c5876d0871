// The workbench store holds plain data only (DESIGN.md convention 7): its state, after every kind of
// update the actions make, survives structuredClone unchanged; the update helpers patch one slice and
// keep the others; streamed tokens accumulate; results carry the serial of the model that made them.
import { describe, expect, it } from 'vitest';
import {
  appendGenerated, createWorkbenchStore, initialState, isCurrent, modelLoaded, patchCalibration, patchGeneration,
  patchImportance, patchModel, patchNll, patchUi, type WorkbenchState,
} from '../../src/store/index.ts';
import type { ModelInfo } from '../../src/worker/api.ts';
import { compute as cosCompute } from '../../src/core/metrics/cos.ts';

const info: ModelInfo = {
  spec: {
    arch: 'llama', name: 'tiny', nLayers: 2, dModel: 4, nHeads: 2, nKvHeads: 1, headDim: 2, dFF: 8, vocabSize: 16,
    contextLength: 32, norm: { kind: 'rms', eps: 1e-5 }, rope: { kind: 'adjacent', theta: 10000, dim: 2 },
    learnedPositions: false, mlp: 'silu-gate', tiedEmbeddings: true, qkvBias: false, linearBias: false, fusedQkv: false,
    bosId: 1, eosId: 2, addBos: true,
  },
  format: 'gguf',
  meta: { 'general.name': 'tiny', 'llama.block_count': 2, quantized: false },
  parameters: 1234,
  weightBytes: 4936,
  tensorTypes: { F32: 3 },
  tensors: [{ name: 'token_embd', type: 'F32', shape: [4, 16], bytes: 256 }],
  backend: { kind: 'gpu', adapter: 'test adapter', software: true, weightBytes: 4936 },
  tokenizer: { kind: 'sentencepiece-bpe', vocabSize: 16, bosId: 1, eosId: 2, addBos: true },
};

/** Every value reachable from the state is plain data (no functions, class instances or typed arrays). */
function assertPlain(v: unknown, path = 'state'): void {
  if (v === null || ['string', 'number', 'boolean', 'undefined'].includes(typeof v)) return;
  if (typeof v === 'function') throw new Error(`${path} is a function`);
  if (Array.isArray(v)) return v.forEach((x, i) => assertPlain(x, `${path}[${i}]`));
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) throw new Error(`${path} is a ${proto?.constructor?.name ?? 'non-plain object'}`);
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) assertPlain(x, `${path}.${k}`);
}

function roundTrip(st: WorkbenchState): void {
  assertPlain(st);
  const copy = structuredClone(st);
  expect(copy).toEqual(st);
  expect(JSON.parse(JSON.stringify(copy, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)))).toBeTruthy();
}

describe('workbench store', () => {
  it('the initial state is plain data and survives structuredClone', () => {
    const s = createWorkbenchStore(initialState({ theme: 'dark', calibrationText: 'hello', presetId: 'story' }));
    roundTrip(s.getState());
    expect(s.getState().ui.theme).toBe('dark');
    expect(s.getState().calibration.text).toBe('hello');
    expect(s.getState().model.info).toBeNull();
  });

  it('every slice survives structuredClone after the updates the actions make', () => {
    const s = createWorkbenchStore();
    patchModel(s, { loading: { label: 'tiny.gguf', progress: { done: 5, total: 10, what: 'download' } } });
    modelLoaded(s, info, 'tiny.gguf', 'tiny/tiny.gguf');
    patchModel(s, { error: { message: 'GGUF: truncated', hint: 'download it again', code: 'truncated', during: 'loading bad.gguf' } });
    patchModel(s, { catalog: [{ key: 'a.gguf', label: 'a (GGUF)', format: 'gguf', files: ['a.gguf'], bytes: 10 }] });
    patchCalibration(s, { text: 'Once upon', tokens: { ids: [1, 5, 6], pieces: ['<s>', ' Once', ' upon'], text: 'Once upon', modelSerial: 1 } });
    patchGeneration(s, { running: true, startedAt: 1000, ids: [], pieces: [] });
    appendGenerated(s, 7, ' a', 1500);
    appendGenerated(s, 8, ' time', 2000);
    patchGeneration(s, { running: false, text: ' a time', tokensPerSecond: 2 });
    patchNll(s, { result: { meanNll: 1.25, perplexity: Math.exp(1.25), scored: 2, windows: 1, tokenNll: [1, 1.5], positions: [1, 2], tokens: 3, text: 'Once upon', modelSerial: 1, seconds: 0.1 } });
    // A real LayerScores from the metrics code (NaN-free) plus a NaN, as a metric may return.
    const T = 3, C = 4, L = 2;
    const taps: Record<string, Float32Array> = {};
    for (let l = 0; l <= L; l++) {
      const h = Float32Array.from({ length: T * C }, (_, i) => Math.sin(i + 3 * l));
      if (l < L) taps[`blk.${l}.in`] = h;
      if (l > 0) taps[`blk.${l - 1}.out`] = h;
      if (l < L) taps[`blk.${l}.mid`] = h.map((x) => x * 0.5 + 0.1);
    }
    const cos = cosCompute({ taps, T, C, nLayers: L });
    patchImportance(s, {
      result: {
        scores: [cos, { ...cos, metricId: 'x', perBlock: [NaN, 1] }],
        agreement: { ids: ['cos', 'x'], spearman: [[1, NaN], [NaN, 1]], kendall: [[1, NaN], [NaN, 1]] },
        pieces: ['a', 'b', 'c'], T, nLayers: L, baseNll: 2.5, timings: { forward: 3, total: 4 }, modelSerial: 1, text: 'abc', seconds: 0.2,
      },
    });
    patchUi(s, { theme: 'dark', themeChosen: true });
    s.setState({ job: { kind: 'nll', label: 'perplexity' } });
    roundTrip(s.getState());
    const st = s.getState();
    expect(st.generation.ids).toEqual([7, 8]);
    expect(st.generation.pieces).toEqual([' a', ' time']);
    expect(st.model.info?.spec.name).toBe('tiny');
    expect(st.model.loading).toBeNull();
    expect(Number.isNaN(structuredClone(st).importance.result!.scores[1].perBlock[0])).toBe(true);
  });

  it('patches replace one slice and keep the others', () => {
    const s = createWorkbenchStore();
    const before = s.getState();
    patchNll(s, { running: true });
    const after = s.getState();
    expect(after.nll.running).toBe(true);
    expect(after.nll).not.toBe(before.nll);
    expect(after.model).toBe(before.model);
    expect(after.calibration).toBe(before.calibration);
    expect(before.nll.running).toBe(false); // the old state object is not mutated
  });

  it('streamed tokens accumulate with a live rate', () => {
    const s = createWorkbenchStore();
    patchGeneration(s, { startedAt: 0, ids: [], pieces: [] });
    appendGenerated(s, 3, 'a', 500);
    expect(s.getState().generation.tokensPerSecond).toBeCloseTo(2, 12); // 1 token in 0.5 s
    appendGenerated(s, 4, 'b', 1000);
    expect(s.getState().generation.tokensPerSecond).toBeCloseTo(2, 12); // 2 tokens in 1 s
    expect(s.getState().generation.ids).toEqual([3, 4]);
  });

  it('a new model increments the serial; results of the old one are not current', () => {
    const s = createWorkbenchStore();
    modelLoaded(s, info, 'tiny', null);
    expect(s.getState().model.serial).toBe(1);
    expect(isCurrent(s.getState(), 1)).toBe(true);
    patchModel(s, { error: { message: 'bad file', during: 'loading x' } });
    expect(s.getState().model.info).not.toBeNull(); // an error leaves the model in place
    modelLoaded(s, { ...info, spec: { ...info.spec, name: 'other' } }, 'other', null);
    expect(s.getState().model.serial).toBe(2);
    expect(s.getState().model.error).toBeNull();
    expect(isCurrent(s.getState(), 1)).toBe(false);
    expect(isCurrent(s.getState(), undefined)).toBe(false);
  });
});
