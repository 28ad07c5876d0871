// `layerlab analyze --json` on stories260K (CPU backend): the documented fields (README "analyze JSON")
// are present with the documented types and meanings, block entries are consistent with each other
// (ranks are a permutation ordered by value), ablation / quant blocks carry their measures; the text
// output names every metric; gradient metrics run; unknown names are usage errors.
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { modelPath } from '../helpers/models.ts';

const run = runCli;

const MODEL = modelPath('stories260K/stories260K.bin');
const TEXT = 'Once upon a time, there was a little girl named Lily. She liked to play.';

type Block = { block: number; value: number | null; rank: number | null; [k: string]: unknown };
type Metric = { id: string; label: string; paper: string; unit: string; higherIsMoreImportant: boolean; blocks: Block[]; sublayers?: (Block & { sublayer: string })[]; perToken?: number[][]; matrix?: number[][]; tensors?: unknown[]; details?: Record<string, unknown> };

function checkRanks(m: Metric, entries: Block[]): void {
  const finite = entries.filter((b) => b.value !== null);
  expect(finite.map((b) => b.rank).sort((a, b) => a! - b!)).toEqual(finite.map((_, i) => i + 1));
  const byRank = [...finite].sort((a, b) => a.rank! - b.rank!);
  for (let i = 1; i < byRank.length; i++) {
    if (m.higherIsMoreImportant) expect(byRank[i].value!).toBeLessThanOrEqual(byRank[i - 1].value!);
    else expect(byRank[i].value!).toBeGreaterThanOrEqual(byRank[i - 1].value!);
  }
  for (const b of entries) if (b.value === null) expect(b.rank).toBeNull();
}

describe('layerlab analyze', () => {
  it('--json with all metrics: documented fields, consistent ranks', async () => {
    const r = await run(['analyze', '--model', MODEL, '--text', TEXT, '--metrics', 'all', '--bits', '4,2', '--formats', 'Q8_0,Q4_K', '--backend', 'cpu', '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.schema).toBe('layerlab.analysis/1');
    expect(j.model).toMatchObject({ path: MODEL, arch: 'llama', nLayers: 5, dModel: 64, vocabSize: 512 });
    expect(j.backend.kind).toBe('cpu');
    const T = j.calibration.tokens;
    expect(j.calibration).toMatchObject({ texts: 1, tokensPerText: [T], textStarts: [0], addBos: true, truncated: [] });
    expect(j.calibration.ids[0][0]).toBe(1);
    expect(j.calibration.pieces[0]).toHaveLength(T);
    expect(j.calibration.baseNll).toBeGreaterThan(0);
    const ids = j.metrics.map((m: Metric) => m.id);
    expect(ids).toEqual(['cos', 'lim', 'contrib', 'cka', 'lens', 'zd', 'w-fro', 'w-kurtosis', 'w-outliers', 'owl', 'erank', 'ablation', 'quant', 'taylor', 'fisher', 'zo']);
    for (const m of j.metrics as Metric[]) {
      expect(typeof m.label).toBe('string');
      expect(m.paper.length).toBeGreaterThan(10);
      expect(typeof m.unit).toBe('string');
      expect(typeof m.higherIsMoreImportant).toBe('boolean');
      expect(m.blocks.map((b) => b.block)).toEqual([0, 1, 2, 3, 4]);
      checkRanks(m, m.blocks);
      if (m.sublayers) {
        expect(m.sublayers).toHaveLength(10);
        expect(m.sublayers.slice(0, 2).map((s) => [s.block, s.sublayer])).toEqual([[0, 'attn'], [0, 'mlp']]);
        checkRanks(m, m.sublayers);
      }
      if (m.perToken) {
        expect(m.perToken).toHaveLength(5);
        for (const row of m.perToken) expect(row).toHaveLength(T);
      }
    }
    const get = (id: string) => (j.metrics as Metric[]).find((m) => m.id === id)!;
    expect(get('cos').sublayers).toBeDefined();
    expect(get('cos').details!.meanCos).toHaveLength(5);
    // cos: value = 1 - meanCos, exactly as documented.
    get('cos').blocks.forEach((b, i) => expect(b.value).toBeCloseTo(1 - (get('cos').details!.meanCos as number[])[i], 12));
    expect(get('cka').matrix).toHaveLength(5);
    expect(get('owl').tensors!.length).toBe(35);
    // ablation: value = kl of skip-block, with dNll and top1 per block and sublayer.
    for (const b of get('ablation').blocks) {
      expect(b.value).toBe(b.kl);
      expect(typeof b.dNll).toBe('number');
      expect(b.top1 as number).toBeGreaterThanOrEqual(0);
    }
    for (const s of get('ablation').sublayers!) expect(s.value).toBe(s.kl);
    // quant: value = KL of the 4-bit plain measurement; per block the plain and format measurements.
    const q = get('quant');
    expect(q.details!.valueFrom).toBe('plain 4-bit');
    for (const b of q.blocks) {
      const plain = b.plain as { bits: number; kl: number }[];
      expect(plain.map((p) => p.bits)).toEqual([4, 2]);
      expect(b.value).toBe(plain[0].kl);
      const f = b.formats as { format: string; kl: number | null; tensors: number; skippedTensors: number }[];
      expect(f.map((x) => [x.format, x.tensors, x.skippedTensors])).toEqual([['Q8_0', 6, 1], ['Q4_K', 0, 7]]);
      expect(f[0].kl).toBeGreaterThan(0);
      expect(f[1].kl).toBeNull();
    }
    const all = q.details!.allBlocks as { plain: { bits: number; kl: number }[]; formats: { format: string; tensors: number }[] };
    expect(all.plain.map((p) => p.bits)).toEqual([4, 2]);
    expect(all.plain[1].kl).toBeGreaterThan(all.plain[0].kl);
    expect(all.formats.map((f) => [f.format, f.tensors])).toEqual([['Q8_0', 30], ['Q4_K', 0]]);
    expect((q.details!.skipped as unknown[]).length).toBe(5 + 35);
    // lens detail and agreement.
    expect(j.lens.k).toBe(5);
    expect(j.lens.topIds).toHaveLength(5);
    expect(j.lens.finalTop1).toHaveLength(T);
    expect(j.agreement.ids).toEqual(ids);
    expect(j.agreement.spearman).toHaveLength(ids.length);
    expect(j.agreement.kendall[0][0]).toBe(1);
    expect(j.options).toMatchObject({ bits: [4, 2], formats: ['Q8_0', 'Q4_K'], refBits: 4, outlierK: 5, owlM: 5, lensTopK: 5 });
    for (const k of ['forward', 'cos', 'ablation', 'quant', 'total']) expect(j.timings[k]).toBeGreaterThanOrEqual(0);
    // The CPU backend has no WGSL scanner: every scanned metric says it ran on the CPU.
    expect(j.scanBackends).toMatchObject({ cos: 'cpu', cka: 'cpu', zd: 'cpu' });
    for (const v of Object.values(j.scanBackends as Record<string, string>)) expect(v).toBe('cpu');
  });

  it('text output names each metric with its blocks', async () => {
    const r = await run(['analyze', '--model', MODEL, '--text', TEXT, '--metrics', 'cos,ablation,agreement', '--backend', 'cpu']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^cos: Block influence/m);
    expect(r.out).toMatch(/^ablation: /m);
    expect(r.out).toMatch(/block {3}4 /);
    expect(r.out).toMatch(/rank agreement/);
  });

  it('taylor / fisher / zo run (CPU gradients); unknown names and a missing --metrics are usage errors', async () => {
    const g = await run(['analyze', '--model', MODEL, '--text', TEXT, '--metrics', 'taylor,fisher,zo', '--backend', 'cpu', '--json']);
    expect(g.code).toBe(0);
    const gj = JSON.parse(g.out) as { metrics: Metric[] };
    expect(gj.metrics.map((m) => m.id)).toEqual(['taylor', 'fisher', 'zo']);
    for (const m of gj.metrics) expect(m.details!.gradientBackend).toBe('cpu');
    const u = await run(['analyze', '--model', MODEL, '--text', TEXT, '--metrics', 'cosine', '--backend', 'cpu']);
    expect(u.code).toBe(2);
    expect(u.err).toMatch(/unknown metric "cosine"/);
    const n = await run(['analyze', '--model', MODEL, '--text', TEXT, '--backend', 'cpu']);
    expect(n.code).toBe(2);
    expect(n.err).toMatch(/--metrics is required/);
  });
});
