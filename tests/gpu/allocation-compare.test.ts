// An allocation applied on the GPU gives the CPU reference's numbers: stories260K with a mixed allocation
// (Q4_0, Q8_0, Q4_1, Q5_0 blocks in their packed formats, ffn_down falling back to F16, the attention of
// block 1 and the whole of block 3 dropped) runs on GpuBackend (packed blocks decoded in WGSL) and on
// CpuBackend (dequantized with core/quant in f32): modified logits within atol 1e-4, and compareModels'
// NLL / KL / top-1 within the error those logits allow. Also `layerlab compare --backend gpu` in-process.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GpuBackend } from '../../src/gpu/gpu-backend.ts';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import type { LoadedModel } from '../../src/core/formats/types.ts';
import { applyAllocation } from '../../src/core/allocation/apply-weights.ts';
import { compareModels } from '../../src/core/allocation/compare.ts';
import { ALLOCATION_SCHEMA } from '../../src/core/allocation/schema.ts';
import { GGMLType } from '../../src/core/quant/types.ts';
import { main } from '../../src/cli/main.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testDevice } from '../helpers/gpu.ts';
import { modelPath, readModelBytes } from '../helpers/models.ts';

const model = loadModelFromFiles([{ name: 'stories260K.gguf', bytes: readModelBytes('stories260K-gguf/stories260K.gguf') }], { contextLength: 512 });
const alloc = {
  schema: ALLOCATION_SCHEMA, model: { name: 'stories260K', arch: 'llama', nLayers: 5 },
  layers: { 0: { format: 'Q4_0' }, 1: { format: 'Q8_0', drop: 'attn' }, 2: { format: 'Q4_1' }, 3: { drop: 'block' }, 4: { format: 'Q5_0' } },
};
const TEXT = 'Once upon a time, there was a little girl named Lily. She loved to play outside.';

async function gpu(m: LoadedModel): Promise<GpuBackend> {
  const device = await testDevice();
  const limits = { maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize, maxBufferSize: device.limits.maxBufferSize };
  return GpuBackend.create({ device, adapter: 'test adapter', software: true, features: [], limits }, m);
}

describe('allocation on the GPU', () => {
  it('packed mixed allocation with drops: GPU = CPU (logits, NLL, KL, top-1)', async () => {
    const ap = applyAllocation(model, alloc);
    expect(ap.model.tensors.get('blk.0.attn_q')!.type).toBe(GGMLType.Q4_0);
    expect(ap.model.tensors.get('blk.4.attn_q')!.type).toBe(GGMLType.Q5_0);
    const ids = model.tokenizer.encode(TEXT, { addBos: true });
    const [gb, gm] = [await gpu(model), await gpu(ap.model)];
    const [cb, cm] = [new CpuBackend(model), new CpuBackend(ap.model)];
    try {
      const lg = await gm.forward(ids, { interventions: ap.interventions });
      const lc = await cm.forward(ids, { interventions: ap.interventions });
      expectAllClose(lg.logits, lc.logits, { atol: 1e-4, rtol: 1e-4 });
      const rg = await compareModels(gb, gm, ids, { interventions: ap.interventions, decodeTokens: 2 });
      const rc = await compareModels(cb, cm, ids, { interventions: ap.interventions, decodeTokens: 0 });
      expectAllClose([rg.base.meanNll, rg.modified.meanNll, rg.kl], [rc.base.meanNll, rc.modified.meanNll, rc.kl], { atol: 1e-4, rtol: 1e-4 });
      expect(rg.top1).toBe(rc.top1);
      expect(rg.kl).toBeGreaterThan(0.01);
      expect(rg.modified.decodeTokensPerSecond).toBeGreaterThan(0);
    } finally {
      gb.dispose();
      gm.dispose();
    }
  }, 60_000);

  it('layerlab compare --backend gpu matches --backend cpu', async () => {
    const f = join(mkdtempSync(join(tmpdir(), 'layerlab-gpu-alloc-')), 'a.json');
    writeFileSync(f, JSON.stringify(alloc));
    const run = async (backend: string) => {
      const parts: string[] = [];
      const errs: string[] = [];
      const code = await main(['compare', '--model', modelPath('stories260K-gguf/stories260K.gguf'), '--context', '512', '--backend', backend, '--alloc', f, '--text', TEXT, '--decode-tokens', '0', '--json'], { write: (s: string) => parts.push(s) }, { write: (s: string) => errs.push(s) });
      expect(errs.join(''), errs.join('')).toBe('');
      expect(code).toBe(0);
      return JSON.parse(parts.join(''));
    };
    const g = await run('gpu');
    const c = await run('cpu');
    expect(g.backend.kind).toBe('gpu');
    expectAllClose([g.base.meanNll, g.modified.meanNll, g.kl], [c.base.meanNll, c.modified.meanNll, c.kl], { atol: 1e-4, rtol: 1e-4 });
    expect(g.size).toEqual(c.size);
  }, 60_000);
});
