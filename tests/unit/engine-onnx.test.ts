// engine.exportOnnx (src/worker/engine-onnx.ts), the page's "Download ONNX": the bytes of stories260K run
// in onnxruntime-web (wasm, Node) give the independent reference logits (refs/stories260K, 1e-4) and the
// residual outputs asked for; an ONNX model and a model too big for the page are refused with the reason.
// The build's runtime files (scripts/vite-ort-wasm-plugin.ts): by default only the JSEP pair, which is what
// the `onnxruntime-web` entry the build resolves to (dist/ort.min.mjs) loads.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../../src/worker/engine.ts';
import { estimateOnnxBytes, onnxExportRefusal, PAGE_EXPORT_MAX_BYTES } from '../../src/worker/engine-onnx.ts';
import { openOrtModel } from '../../src/onnx/ort-run.ts';
import { decodeOnnxModel } from '../../src/onnx/proto.ts';
import type { LoadedModel } from '../../src/core/formats/types.ts';
import { ortDistDir, ortWasmFiles } from '../../scripts/vite-ort-wasm-plugin.ts';
import { readModelBytes, repoRoot } from '../helpers/models.ts';
import { storiesLogits } from '../helpers/parity.ts';
import { expectAllClose } from '../helpers/close.ts';

const files = () => [
  { name: 'stories260K.bin', bytes: readModelBytes('stories260K/stories260K.bin') },
  { name: 'tok512.bin', bytes: readModelBytes('stories260K/tok512.bin') },
];

describe('engine.exportOnnx', () => {
  it('stories260K with residual outputs: onnxruntime gives the reference logits; an ONNX model is refused', async () => {
    const engine = new Engine(async () => null);
    await engine.load({ kind: 'files', files: files() }, { backend: 'cpu' });
    const r = await engine.exportOnnx({ residualOutputs: true });
    expect(r.fileName).toBe('stories260k-resid.onnx');
    expect(r.opset).toBe(17);
    expect(r.outputs).toHaveLength(1 + 1 + 2 * 5);
    expect(r.linears).toEqual({ float32: 35 });
    expect(r.bytes.byteOffset).toBe(0);
    expect(r.bytes.byteLength).toBe(r.bytes.buffer.byteLength);
    expect(decodeOnnxModel(r.bytes).graph?.output?.map((o) => o.name)).toEqual(r.outputs);
    const est = estimateOnnxBytes(engine.current.model);
    expect(r.bytes.byteLength).toBeLessThanOrEqual(est * 1.05 + 64 * 1024);
    const ref = storiesLogits();
    const ort = await openOrtModel(r.bytes);
    const o = await ort.run(ref.ids, ['logits', 'hidden.4']);
    await ort.release();
    expectAllClose(o.logits.data, ref.logits.flat(), { atol: 1e-4, rtol: 0 }, 'page export logits');
    expect(o['hidden.4'].dims).toEqual([1, ref.ids.length, 64]);

    // Load that export: an ONNX model is not exported again.
    await engine.load({ kind: 'files', files: [{ name: r.fileName, bytes: r.bytes }, files()[1]] }, { backend: 'cpu' });
    expect((await engine.info()).format).toBe('onnx');
    await expect(engine.exportOnnx({})).rejects.toThrow(/ONNX export refused: the loaded model is already an ONNX graph/);
    // The allocation exports read the files of the model now loaded, never the previous model's.
    expect(engine.allocationHost().sourceFiles?.map((f) => f.name)).toEqual([r.fileName, 'tok512.bin']);
    await engine.unload();
  }, 60_000);

  it('a model whose export would not fit the page is refused with its size, before anything is built', () => {
    const t = (name: string, shape: number[]) => ({ name, shape, type: 0, data: new Uint8Array(0) });
    const spec = { name: 'huge', nLayers: 1, contextLength: 16, rope: { kind: 'none', theta: 0, dim: 0 } };
    const model = {
      format: 'gguf',
      spec,
      tensors: new Map([
        ['token_embd', t('token_embd', [100_000, 2048])],
        ['blk.0.ffn_up', t('blk.0.ffn_up', [200_000, 2048])],
      ]),
    } as unknown as LoadedModel;
    // float32: (100000 + 200000) * 2048 * 4 bytes = 2.29 GiB; 4-bit linears: 0.76 + 0.21 GiB.
    expect(estimateOnnxBytes(model)).toBe(300_000 * 2048 * 4);
    expect(estimateOnnxBytes(model, true)).toBe(100_000 * 2048 * 4 + 200_000 * 2048 * 0.5625);
    expect(onnxExportRefusal(model)).toMatch(/about 2,344 MiB, more than the page builds in memory \(1,536 MiB\): try 4-bit weights/);
    expect(onnxExportRefusal(model, true)).toBeNull();
    expect(PAGE_EXPORT_MAX_BYTES).toBe(1536 * 2 ** 20);
  });
});

describe('self-hosted onnxruntime files of the build', () => {
  it('default: the JSEP pair, the build the extern-wasm entry loads; "all" and bad names', () => {
    expect(ortWasmFiles(undefined)).toEqual(['ort-wasm-simd-threaded.jsep.mjs', 'ort-wasm-simd-threaded.jsep.wasm']);
    expect(ortWasmFiles('all')).toHaveLength(8);
    expect(ortWasmFiles('plain,jsep')).toEqual(['ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm', 'ort-wasm-simd-threaded.jsep.mjs', 'ort-wasm-simd-threaded.jsep.wasm']);
    expect(() => ortWasmFiles('webgl')).toThrow(/unknown variant "webgl"/);
    // The entry a build resolves `onnxruntime-web` to names only the JSEP glue, and no other variant.
    const entry = readFileSync(join(ortDistDir(repoRoot), 'ort.min.mjs'), 'utf8');
    const names = new Set(entry.match(/ort-wasm-simd-threaded[.a-z]*\.(?:mjs|wasm)/g));
    expect([...names]).toEqual(['ort-wasm-simd-threaded.jsep.mjs']);
  });
});
