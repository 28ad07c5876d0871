// `layerlab export-onnx`: the written file opens in onnxruntime-web (wasm) and reproduces the
// independent stories260K reference logits (1e-4); --residual-outputs and --weights 4bit change the
// graph as documented; bad options are usage errors (exit 2).
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, runCliJson } from '../helpers/cli.ts';
import { modelPath } from '../helpers/models.ts';
import { storiesLogits } from '../helpers/parity.ts';
import { expectAllClose } from '../helpers/close.ts';
import { openOrtModel } from '../../src/onnx/ort-run.ts';
import { decodeOnnxModel } from '../../src/onnx/proto.ts';

const dir = mkdtempSync(join(tmpdir(), 'layerlab-onnx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('layerlab export-onnx', () => {
  it('writes stories260K with residual outputs; onnxruntime gives the reference logits', async () => {
    const out = join(dir, 'stories.onnx');
    const r = await runCliJson(['export-onnx', '--model', modelPath('stories260K/stories260K.bin'), '--out', out, '--residual-outputs']);
    expect(r.out).toBe(out);
    expect(r.opset).toBe(17);
    expect(r.kvCache).toBe(false);
    expect(r.backend.kind).toBe('cpu');
    expect(r.outputs).toHaveLength(1 + 1 + 2 * 5);
    expect(r.linears).toEqual({ float32: 35 });
    const bytes = new Uint8Array(readFileSync(out));
    expect(bytes.length).toBe(r.bytes);
    const ref = storiesLogits();
    const ort = await openOrtModel(bytes);
    const o = await ort.run(ref.ids, ['logits', 'hidden.4']);
    await ort.release();
    expectAllClose(o.logits.data, ref.logits.flat(), { atol: 1e-4, rtol: 0 }, 'CLI export logits');
    expect(o['hidden.4'].dims).toEqual([1, ref.ids.length, 64]);
  }, 60_000);

  it('--weights 4bit on the Q4_0 GGUF: MatMulNBits for the Q4_0 linears, ffn_down kept float32 with the reason', async () => {
    const out = join(dir, 'q4.onnx');
    const r = await runCli(['export-onnx', '--model', modelPath('stories260K-gguf/quantized/stories260K-Q4_0.gguf'), '--context', '512', '--out', out, '--weights', '4bit']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/q4-repacked x30/);
    expect(r.out).toMatch(/kept float32: blk\.0\.ffn_down \(row length 172 is not a multiple of 32\)/);
    const m = decodeOnnxModel(new Uint8Array(readFileSync(out)));
    expect(m.graph!.node!.filter((n) => n.opType === 'MatMulNBits' && n.domain === 'com.microsoft')).toHaveLength(30);
  }, 60_000);

  it('--kv-cache adds past/present tensors for every layer', async () => {
    const out = join(dir, 'kv.onnx');
    const r = await runCliJson(['export-onnx', '--model', modelPath('stories260K/stories260K.bin'), '--out', out, '--kv-cache']);
    expect(r.kvCache).toBe(true);
    const m = decodeOnnxModel(new Uint8Array(readFileSync(out)));
    expect(m.graph!.input!.map((i) => i.name)).toContain('past_value.4');
    expect(m.graph!.output!.map((o) => o.name)).toContain('present_key.0');
  }, 60_000);

  it('bad --weights and a missing --out are usage errors', async () => {
    const bad = await runCli(['export-onnx', '--model', modelPath('stories260K/stories260K.bin'), '--out', join(dir, 'x.onnx'), '--weights', '3bit']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--weights must be 4bit or f32/);
    const noOut = await runCli(['export-onnx', '--model', modelPath('stories260K/stories260K.bin')]);
    expect(noOut.code).toBe(2);
    expect(noOut.err).toMatch(/--out is required/);
  });
});
