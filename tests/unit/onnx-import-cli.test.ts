// `layerlab ... --model FILE.onnx` (src/cli/onnx-model.ts + the engine's ONNX path): the fixture graph of
// stories260K (tests/unit/onnx-import-fixtures.ts, anonymous style, embedding in an external data file)
// written to a temporary folder; logits, nll, generate and analyze against the same commands on the
// llama2.c checkpoint run by the native CPU engine; usage errors for a missing tokenizer and refused
// metrics.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import { encodeOnnxModel } from '../../src/onnx/proto.ts';
import { modelPath, readModelBytes } from '../helpers/models.ts';
import { runCli, runCliJson, type Json } from '../helpers/cli.ts';
import { expectAllClose } from '../helpers/close.ts';
import { uniform } from '../../src/core/allocation/strategies.ts';
import { llamaOnnx } from './onnx-import-fixtures.ts';

const native = loadModelFromFiles([
  { name: 'stories260K.bin', bytes: readModelBytes('stories260K/stories260K.bin') },
  { name: 'tok512.bin', bytes: readModelBytes('stories260K/tok512.bin') },
]);
const ckpt = modelPath('stories260K/stories260K.bin');
const tok = modelPath('stories260K/tok512.bin');
let dir: string;
let onnx: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'layerlab-onnx-cli-'));
  const m = llamaOnnx(native, { style: 'anonymous' });
  const emb = m.graph!.initializer!.find((t) => (t.dims ?? []).join() === '512,64')!;
  writeFileSync(join(dir, 'weights.data'), emb.rawData!);
  emb.externalData = [{ key: 'location', value: 'weights.data' }, { key: 'offset', value: '0' }, { key: 'length', value: String(emb.rawData!.length) }];
  emb.dataLocation = 1;
  delete emb.rawData;
  onnx = join(dir, 'model.onnx');
  writeFileSync(onnx, encodeOnnxModel(m));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const text = 'Once upon a time, there was a little dog';

describe('CLI with --model FILE.onnx', () => {
  it('logits and nll equal the native engine on the checkpoint', async () => {
    const got: Json = await runCliJson(['logits', '--model', onnx, '--tokenizer', tok, '--text', text]);
    const want: Json = await runCliJson(['logits', '--model', ckpt, '--backend', 'cpu', '--text', text]);
    expect(got.ids).toEqual(want.ids);
    expectAllClose(Float32Array.from(got.logits.flat()), Float32Array.from(want.logits.flat()), { atol: 1e-4, rtol: 1e-4 });
    expect(got.backend.adapter).toMatch(/onnxruntime-web/);
    const n: Json = await runCliJson(['nll', '--model', onnx, '--tokenizer', tok, '--text', text]);
    const nw: Json = await runCliJson(['nll', '--model', ckpt, '--backend', 'cpu', '--text', text]);
    expect(n.meanNll).toBeCloseTo(nw.meanNll, 4);
  });

  it('generate (greedy) equals the native engine', async () => {
    const got: Json = await runCliJson(['generate', '--model', onnx, '--tokenizer', tok, '--prompt', 'Once upon a time', '--tokens', '8']);
    const want: Json = await runCliJson(['generate', '--model', ckpt, '--backend', 'cpu', '--prompt', 'Once upon a time', '--tokens', '8']);
    expect(got.generatedIds).toEqual(want.generatedIds);
  });

  it('info reports format onnx and the features ONNX models get', async () => {
    const info: Json = await runCliJson(['info', '--model', onnx, '--tokenizer', tok]);
    expect(info.format).toBe('onnx');
    expect(info.spec.nLayers).toBe(5);
    expect(info.features.needsNativeFile).toContain('fisher');
  });

  it('analyze runs the activation and weight metrics; others are refused by name', async () => {
    const got: Json = await runCliJson(['analyze', '--model', onnx, '--tokenizer', tok, '--text', text, '--metrics', 'cos,contrib,weights']);
    const want: Json = await runCliJson(['analyze', '--model', ckpt, '--backend', 'cpu', '--text', text, '--metrics', 'cos,contrib,weights']);
    const per = (r: Json, id: string): number[] => r.metrics.find((m: Json) => m.id === id).blocks.map((b: Json) => b.value);
    for (const id of ['cos', 'contrib', 'owl']) expectAllClose(Float32Array.from(per(got, id)), Float32Array.from(per(want, id)), { atol: 1e-4, rtol: 1e-4 }, id);
    const r = await runCli(['analyze', '--model', onnx, '--tokenizer', tok, '--text', text, '--metrics', 'cos,taylor']);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/taylor is not available for ONNX models: .*GGUF or safetensors/);
  });

  it('compare --alloc (Q8_0 + a dropped block, applied to the initializers) equals the native compare', async () => {
    const alloc = uniform(native.spec, 'Q8_0');
    alloc.layers!['2'] = { ...alloc.layers!['2'], drop: 'block' };
    const f = join(dir, 'alloc.json');
    writeFileSync(f, JSON.stringify(alloc));
    const args = ['--alloc', f, '--text', text, '--decode-tokens', '0'];
    const got: Json = await runCliJson(['compare', '--model', onnx, '--tokenizer', tok, ...args]);
    const want: Json = await runCliJson(['compare', '--model', ckpt, '--backend', 'cpu', ...args]);
    expect(got.kl).toBeGreaterThan(0.01);
    expect(got.kl).toBeCloseTo(want.kl, 4);
    expect(got.top1).toBe(want.top1);
    expect(got.nllDiff).toBeCloseTo(want.nllDiff, 4);
  });

  it('no tokenizer beside the file and no --tokenizer: a usage error', async () => {
    const r = await runCli(['logits', '--model', onnx, '--text', text]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/needs a tokenizer: put tokenizer.json beside model.onnx or pass --tokenizer PATH/);
  });
});
