// GpuAnalysisScanner reading the forwards' taps on the device (DeviceTapCapture over
// GpuBackend.forwardOnDevice, as the engine wires it) gives the same analysis as the same scanner fed the
// read-back host taps (uploaded again): cos, lim, contrib, cka on stories260K (GGUF), two texts (the
// device concatenation) and one text (the kept buffers used directly). Both runs use the same GPU backend
// and the same kernels on the same bytes, so the scores are compared exactly (toEqual). The capture's
// counters show the device path was taken (served, no tap upload); a request whose host taps were
// changed is declined (upload instead).
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/core/analysis/index.ts';
import { GpuBackend } from '../../src/gpu/gpu-backend.ts';
import { DeviceTapCapture, GpuAnalysisScanner } from '../../src/gpu/analysis-scans.ts';
import { tapName } from '../../src/core/model/taps.ts';
import { MODELS } from '../helpers/parity.ts';
import { skipGpu, testDevice } from '../helpers/gpu.ts';

describe.skipIf(skipGpu)('analysis scans on device taps (stories260K GGUF)', () => {
  it('equal the scans of uploaded host taps, for two texts and for one', async () => {
    const device = await testDevice();
    const limits = { maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize, maxBufferSize: device.limits.maxBufferSize };
    const acquired = { device, adapter: 'test adapter', software: true, features: [], limits };
    const model = MODELS['stories260K (GGUF)']();
    const gpu = await GpuBackend.create(acquired, model);
    for (const texts of [['Once upon a time, a cat', 'The dog ran to the park.'], ['Lily saw a big red ball under a tree.']]) {
      const opts = { texts, metrics: ['cos', 'lim', 'contrib', 'cka'] };
      const plain = new GpuAnalysisScanner(gpu.ctx, { simple: gpu.simple });
      const want = await analyze(gpu, model, { ...opts, activationScanner: plain });
      expect(plain.stats.uploads).toBeGreaterThan(0);
      const capture = new DeviceTapCapture(gpu);
      const scanner = new GpuAnalysisScanner(gpu.ctx, { simple: gpu.simple, deviceTaps: capture });
      const got = await analyze(capture.backend(), model, { ...opts, activationScanner: scanner });
      capture.release();
      expect(capture.stats).toEqual({ served: 1, declined: 0 });
      expect(scanner.stats.uploads).toBe(0);
      expect(got.scanBackends).toEqual(want.scanBackends);
      expect(got.scores).toEqual(want.scores);
    }
    gpu.dispose();
  });

  it('declines taps that are not the captured forwards (then uploads)', async () => {
    const device = await testDevice();
    const limits = { maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize, maxBufferSize: device.limits.maxBufferSize };
    const model = MODELS['stories260K (GGUF)']();
    const gpu = await GpuBackend.create({ device, adapter: 'test adapter', software: true, features: [], limits }, model);
    const capture = new DeviceTapCapture(gpu);
    const ids = model.tokenizer.encode('Once upon a time');
    const L = model.spec.nLayers;
    const names: string[] = [];
    for (let l = 0; l < L; l++) names.push(tapName(l, 'in'), tapName(l, 'out'));
    const r = await capture.backend().forward(ids, { taps: names });
    const C = model.spec.dModel;
    expect(capture.find(r.taps, names, ids.length, C)).not.toBeNull();
    const changed = { ...r.taps, [names[3]]: r.taps[names[3]].map((v) => v + 1) };
    expect(capture.find(changed, names, ids.length, C)).toBeNull();
    expect(capture.find(r.taps, names, ids.length + 1, C)).toBeNull();
    expect(capture.stats).toEqual({ served: 1, declined: 2 });
    capture.release();
    gpu.dispose();
  });
});
