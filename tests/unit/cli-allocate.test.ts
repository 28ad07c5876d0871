// The allocation verbs of the CLI (allocate, compare, export, sweep), called in-process as main(argv, out,
// err) on stories260K (GGUF, --context 512, CPU backend). Expected values come from elsewhere: the hand
// sums of Q8_0 / Q4_0 / F16 bits (see allocation-apply.test.ts), the `nll` command (nllOfIds, a different
// code path) for the base NLL, the `analyze` command's ranking for the ranked strategy, and
// randomOrder's seeded shuffle for random.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, runCliJson, type Json } from '../helpers/cli.ts';
import { randomOrder } from '../../src/core/allocation/strategies.ts';
import { modelPath, repoRoot } from '../helpers/models.ts';
import { expectAllClose } from '../helpers/close.ts';

const run = runCli;
const runJson = runCliJson;

const dir = mkdtempSync(join(tmpdir(), 'layerlab-alloc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const MODEL = ['--model', modelPath('stories260K-gguf/stories260K.gguf'), '--context', '512', '--backend', 'cpu'];
const TEXT = ['--text', 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friend.'];
const formatsOf = (a: Json): string[] => [0, 1, 2, 3, 4].map((l) => a.layers[String(l)]?.format);

describe('layerlab allocate / compare / export', () => {
  const q8 = join(dir, 'q8.json');

  it('allocate uniform Q8_0 writes a valid allocation; compare reports KL < 0.01 and the fallbacks', async () => {
    const a = await runJson(['allocate', ...MODEL, '--strategy', 'uniform', '--format', 'Q8_0', '--out', q8]);
    const file = JSON.parse(readFileSync(q8, 'utf8'));
    expect(file.schema).toBe('layerlab.allocation/1');
    expect(formatsOf(file)).toEqual(['Q8_0', 'Q8_0', 'Q8_0', 'Q8_0', 'Q8_0']);
    expect(a.fallbacks.map((f: Json) => f.name)).toEqual([0, 1, 2, 3, 4].map((l) => `blk.${l}.ffn_down`));

    const c = await runJson(['compare', ...MODEL, '--alloc', q8, ...TEXT, '--decode-tokens', '2']);
    const nll = await runJson(['nll', ...MODEL, ...TEXT]);
    expect(c.tokens).toBe(nll.tokens);
    expectAllClose([c.base.meanNll], [nll.meanNll], { atol: 1e-6, rtol: 1e-6 });
    expect(c.kl).toBeLessThan(0.01);
    expect(c.klPerToken).toHaveLength(c.tokens);
    expect(c.top1).toBeGreaterThan(0.9);
    // Q8_0 blocks: 34304 values at 34/32 bytes + ffn_down 11008 F16 values per block (hand sums).
    expect(c.size.baseResidentBytes - c.size.residentBytes).toBe(5 * (45312 * 4 - (34304 * 34) / 32 - 11008 * 2));
    expect(c.fallbacks).toHaveLength(5);
    expect(c.backend.kind).toBe('cpu');
  });

  it('compare --ctx: llama-perplexity chunks for both models; base equals the perplexity command', async () => {
    const file = join(dir, 'eval.txt');
    writeFileSync(file, Array.from({ length: 4 }, () => TEXT[1]).join(' '));
    const drop = join(dir, 'drop-ctx.json');
    writeFileSync(drop, JSON.stringify({ schema: 'layerlab.allocation/1', model: { name: 'stories260K', arch: 'llama', nLayers: 5 }, layers: { 3: { drop: 'attn' } } }));
    const c = await runJson(['compare', ...MODEL, '--alloc', drop, '--file', file, '--ctx', '32']);
    const p = await runJson(['perplexity', ...MODEL, '--file', file, '--ctx', '32']);
    expect(c.chunked.ctx).toBe(32);
    expect(c.chunked.chunks).toBe(p.chunks);
    expectAllClose([c.chunked.base.perplexity, c.chunked.base.nllStdErr], [p.perplexity, p.nllStdErr], { atol: 0, rtol: 1e-12 });
    expect(c.chunked.modified.perplexity).toBeGreaterThan(c.chunked.base.perplexity);
    const none = await runJson(['compare', ...MODEL, '--alloc', drop, '--file', file]);
    expect(none.chunked).toBeNull();
  });

  it('random is deterministic per seed and lowers the last n blocks of the seeded order', async () => {
    const f1 = join(dir, 'r1.json');
    const f2 = join(dir, 'r2.json');
    await runJson(['allocate', ...MODEL, '--strategy', 'random', '--seed', '7', '--format', 'Q8_0', '--low', 'Q4_0', '--n', '2', '--out', f1]);
    await runJson(['allocate', ...MODEL, '--strategy', 'random', '--seed', '7', '--format', 'Q8_0', '--low', 'Q4_0', '--n', '2', '--out', f2]);
    expect(readFileSync(f1, 'utf8')).toBe(readFileSync(f2, 'utf8'));
    const o = randomOrder(5, 7);
    const want = [0, 1, 2, 3, 4].map((l) => (o.indexOf(l) >= 3 ? 'Q4_0' : 'Q8_0'));
    expect(formatsOf(JSON.parse(readFileSync(f1, 'utf8')))).toEqual(want);
  });

  it('ranked by a metric lowers its least important blocks; reverse its most important; drop-blocks drops', async () => {
    const an = await runJson(['analyze', ...MODEL, ...TEXT, '--metrics', 'cos']);
    // The analyze report's 1-based ranks (1 = most important) -> the order of the blocks.
    const ranking: number[] = an.metrics.find((m: Json) => m.id === 'cos').blocks.slice().sort((x: Json, y: Json) => x.rank - y.rank).map((b: Json) => b.block);
    expect(ranking.slice().sort()).toEqual([0, 1, 2, 3, 4]);
    const fr = join(dir, 'ranked.json');
    const fv = join(dir, 'reverse.json');
    const fd = join(dir, 'drop.json');
    await runJson(['allocate', ...MODEL, ...TEXT, '--strategy', 'ranked', '--metric', 'cos', '--format', 'Q8_0', '--low', 'Q4_0', '--n', '2', '--out', fr]);
    await runJson(['allocate', ...MODEL, ...TEXT, '--strategy', 'reverse', '--metric', 'cos', '--format', 'Q8_0', '--low', 'Q4_0', '--n', '2', '--out', fv]);
    await runJson(['allocate', ...MODEL, ...TEXT, '--strategy', 'ranked', '--metric', 'cos', '--budget', 'drop-blocks=1', '--out', fd]);
    const low = (f: string) => formatsOf(JSON.parse(readFileSync(f, 'utf8'))).map((x, l) => (x === 'Q4_0' ? l : -1)).filter((l) => l >= 0);
    expect(low(fr)).toEqual(ranking.slice(3).sort());
    expect(low(fv)).toEqual(ranking.slice(0, 2).sort());
    const d = JSON.parse(readFileSync(fd, 'utf8'));
    expect(d.layers).toEqual({ [String(ranking[4])]: { drop: 'block' } });
    const c = await runJson(['compare', ...MODEL, '--alloc', fd, ...TEXT]);
    expect(c.interventions).toEqual([{ kind: 'skip-block', layer: ranking[4] }]);
    expect(c.kl).toBeGreaterThan(0);
  });

  it('solve stays within its bits-per-weight budget (hand sums of the per-block bits)', async () => {
    // Per block: 34304 values at the format's bpw + ffn_down 11008 values at F16 (172-value rows fit
    // neither Q8_0 nor Q4_0). Q8_0 block = 34304*8.5 + 11008*16 bits, Q4_0 block = 34304*4.5 + 11008*16.
    const bits = { Q8_0: 34304 * 8.5 + 11008 * 16, Q4_0: 34304 * 4.5 + 11008 * 16 } as Record<string, number>;
    const f = join(dir, 'solve.json');
    await runJson(['allocate', ...MODEL, ...TEXT, '--strategy', 'solve', '--formats', 'Q8_0,Q4_0', '--budget', 'bpw=8', '--out', f]);
    const fm = formatsOf(JSON.parse(readFileSync(f, 'utf8')));
    const total = fm.reduce((s, x) => s + bits[x], 0);
    expect(total).toBeLessThanOrEqual(8 * 5 * 45312);
    // Budget 8 bpw over 5 blocks allows exactly one Q8_0 block (two would cost 8.33 bpw): the optimum uses it.
    expect(fm.filter((x) => x === 'Q8_0')).toHaveLength(1);
    const r = await run(['allocate', ...MODEL, ...TEXT, '--strategy', 'solve', '--formats', 'Q8_0,Q4_0', '--budget', 'bpw=5', '--out', f]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no plan fits the budget/);
  });

  it('export: json, llama-quantize, peft', async () => {
    const fj = join(dir, 'out.json');
    const fl = join(dir, 'out.sh');
    const fp = join(dir, 'peft.json');
    await runJson(['export', ...MODEL, '--alloc', q8, '--to', 'json', '--out', fj]);
    expect(JSON.parse(readFileSync(fj, 'utf8'))).toEqual(JSON.parse(readFileSync(q8, 'utf8')));
    const l = await runJson(['export', ...MODEL, '--alloc', q8, '--to', 'llama-quantize', '--out', fl]);
    const cmd = readFileSync(fl, 'utf8');
    expect(cmd).toContain("--tensor-type '^blk\\.0\\.attn_q\\.weight$=q8_0'");
    expect(cmd).toContain("--tensor-type '^blk\\.4\\.ffn_down\\.weight$=f16'");
    expect(l.args.at(-1)).toBe('Q8_0');
    const rk = join(dir, 'rank.json');
    writeFileSync(rk, JSON.stringify({ schema: 'layerlab.allocation/1', model: { name: 'stories260K', arch: 'llama', nLayers: 5 }, tensors: { 'blk.1.attn_q': { rank: 8 }, 'blk.3.attn_q': { rank: 16 } } }));
    const p = await runJson(['export', ...MODEL, '--alloc', rk, '--to', 'peft', '--out', fp]);
    expect(p.to).toBe('peft');
    const peft = JSON.parse(readFileSync(fp, 'utf8'));
    expect(peft.layers_to_transform).toEqual([1, 3]);
    expect(peft.target_modules).toEqual(['q_proj']);
  });

  it('export --to gguf: a loadable GGUF with the dropped block removed; llama2c sources refused', async () => {
    const fa = join(dir, 'drop2.json');
    const fg = join(dir, 'drop2.gguf');
    writeFileSync(fa, JSON.stringify({ schema: 'layerlab.allocation/1', model: { name: 'stories260K', arch: 'llama', nLayers: 5 }, layers: { 1: { format: 'Q4_0' }, 2: { drop: 'block' } } }));
    const e = await runJson(['export', ...MODEL, '--alloc', fa, '--to', 'gguf', '--out', fg]);
    expect(e.blockCount).toBe(4);
    expect(e.renumber).toEqual([0, 1, null, 2, 3]);
    expect(e.bytes).toBe(readFileSync(fg).byteLength);
    const info = await runJson(['info', '--model', fg, '--context', '512', '--backend', 'cpu']);
    expect(info.spec.nLayers).toBe(4);
    expect(info.tensorTypes.Q4_0).toBe(6);
    const llama2c = ['--model', modelPath('stories260K/stories260K.bin'), '--backend', 'cpu'];
    const r = await run(['export', ...llama2c, '--alloc', fa, '--to', 'gguf', '--out', join(dir, 'x.gguf')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/needs a GGUF source model/);
  });

  it('sweep Q8_0 -> int2: NLL rises as more blocks go to 2 bits; points equal compare on the same allocation', async () => {
    const sw = await runJson(['sweep', ...MODEL, ...TEXT, '--metric', 'cos', '--from', 'Q8_0', '--to', 'int2', '--step', '20', '--seeds', '1,2']);
    expect(sw.to).toBe('int2-g32-asym');
    expect(sw.curves.map((c: Json) => c.order)).toEqual(['cos', 'reverse', 'random:1', 'random:2']);
    for (const cv of sw.curves) {
      expect(cv.points.map((p: Json) => p.moved)).toEqual([0, 1, 2, 3, 4, 5]);
      for (let i = 1; i < cv.points.length; i++) expect(cv.points[i].meanNll, `${cv.order} ${i}`).toBeGreaterThan(cv.points[i - 1].meanNll);
      expect(cv.points[5].kl).toBeGreaterThan(cv.points[0].kl);
      expect(cv.points[0].meanNll).toBe(sw.curves[0].points[0].meanNll);
      // Format bits by hand: a Q8_0 block has 34304 values at 8.5 bits and ffn_down's 11008 at F16 (172-value
      // rows); an int2-g32-asym block has all 45312 at 2 + 32/32 = 3 bits (plain groups fit any row).
      cv.points.forEach((p: Json) => expectAllClose([p.formatBitsPerWeight], [(p.moved * 45312 * 3 + (5 - p.moved) * (34304 * 8.5 + 11008 * 16)) / (5 * 45312)], { atol: 1e-12, rtol: 1e-12 }));
    }
    // The 40% point of the metric order = "the 2 least important blocks at int2" through allocate + compare.
    const f = join(dir, 'sweep2.json');
    await runJson(['allocate', ...MODEL, ...TEXT, '--strategy', 'ranked', '--metric', 'cos', '--format', 'Q8_0', '--low', 'int2', '--n', '2', '--out', f]);
    const c = await runJson(['compare', ...MODEL, '--alloc', f, ...TEXT]);
    expectAllClose([sw.curves[0].points[2].meanNll, sw.curves[0].points[2].kl], [c.modified.meanNll, c.kl], { atol: 1e-12, rtol: 0 });
  });

  it('sweep --drop block,attn,mlp: drop curves per kind and order; points equal allocate+compare', async () => {
    const sw = await runJson(['sweep', ...MODEL, ...TEXT, '--metric', 'cos', '--drop', 'block,attn,mlp', '--step', '20', '--seeds', '3']);
    expect(sw.curves.map((c: Json) => `${c.drop}/${c.order}`)).toEqual(['block', 'attn', 'mlp'].flatMap((d) => ['cos', 'reverse', 'random:3'].map((o) => `${d}/${o}`)));
    for (const cv of sw.curves) {
      expect(cv.points[0].kl).toBe(0); // nothing dropped: the same backend, the same logits
      expect(cv.points[5].kl).toBeGreaterThan(cv.points[1].kl);
      expect(cv.points[0].formatBitsPerWeight).toBeNull();
    }
    const f = join(dir, 'drop2.json');
    await runJson(['allocate', ...MODEL, ...TEXT, '--strategy', 'ranked', '--metric', 'cos', '--budget', 'drop-blocks=2', '--out', f]);
    const c = await runJson(['compare', ...MODEL, '--alloc', f, ...TEXT]);
    expectAllClose([sw.curves[0].points[2].meanNll, sw.curves[0].points[2].kl], [c.modified.meanNll, c.kl], { atol: 1e-12, rtol: 0 });
    const bad = await run(['sweep', ...MODEL, ...TEXT, '--metric', 'cos', '--drop', 'head', '--step', '50']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--drop must be/);
  });

  it('every top-level field README.md documents for compare and sweep is in their JSON', async () => {
    const md = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const start = md.indexOf('### allocation JSON fields');
    expect(start).toBeGreaterThan(0);
    const end = md.indexOf('\n#', start + 5);
    const section = md.slice(start, end < 0 ? undefined : end);
    const fields = (cmd: string): string[] => {
      const b = section.split(/\n- /).map((x) => x.replace(/\n\s+/g, ' ')).find((x) => x.startsWith(`\`${cmd}\`:`))!;
      let depth = 0;
      const out: string[] = [];
      const body = b.slice(cmd.length + 3);
      for (let i = 0; i < body.length; i++) {
        if (body[i] === '(') depth++;
        else if (body[i] === ')') depth--;
        else if (body[i] === '`') { const j = body.indexOf('`', i + 1); if (depth === 0) out.push(body.slice(i + 1, j)); i = j; }
      }
      return out.filter((f) => /^[A-Za-z]+$/.test(f));
    };
    const c = await runJson(['compare', ...MODEL, '--alloc', q8, ...TEXT, '--decode-tokens', '1']);
    expect(fields('compare').length).toBeGreaterThan(10);
    for (const f of fields('compare')) expect(c, `compare.${f}`).toHaveProperty([f]);
    for (const f of ['meanNll', 'ppl', 'prefillTokensPerSecond', 'decodeTokensPerSecond']) expect(c.modified).toHaveProperty([f]);
    const sw = await runJson(['sweep', ...MODEL, ...TEXT, '--metric', 'cos', '--to', 'Q4_0', '--step', '50']);
    for (const f of fields('sweep')) expect(sw, `sweep.${f}`).toHaveProperty([f]);
    for (const f of ['percent', 'moved', 'meanNll', 'kl', 'top1', 'bitsPerWeight', 'formatBitsPerWeight']) expect(sw.curves[0].points[1]).toHaveProperty([f]);
    expect(sw.curves[0].points.map((p: Json) => p.moved)).toEqual([0, 3, 5]);
  });

  it('export --to csv: one row per block score of each metric, values equal analyze --json', async () => {
    const fc = join(dir, 'scores.csv');
    await runJson(['export', ...MODEL, ...TEXT, '--alloc', q8, '--to', 'csv', '--metrics', 'cos,contrib', '--out', fc]);
    const csv = readFileSync(fc, 'utf8');
    const an = await runJson(['analyze', ...MODEL, ...TEXT, '--metrics', 'cos,contrib']);
    // RFC 4180 cells (quoted cells may hold commas).
    const cells = (l: string): string[] => [...l.matchAll(/("(?:[^"]|"")*"|[^,]*)(,|$)/g)].slice(0, -1).map((m) => m[1].replace(/^"|"$/g, '').replace(/""/g, '"'));
    const rows = csv.trim().split('\n').map(cells);
    expect(rows[0]).toEqual(['metric', 'unit', 'higher_is_more_important', 'block', 'sublayer', 'value', 'rank']);
    for (const m of an.metrics) {
      for (const b of m.blocks) {
        const row = rows.find((r) => r[0] === m.id && r[3] === String(b.block) && r[4] === '');
        expect(row, `${m.id} block ${b.block}`).toBeDefined();
        expect(Number(row![5])).toBe(b.value);
        expect(Number(row![6])).toBe(b.rank);
      }
    }
  });

  it('refuses bad input with usage errors', async () => {
    const cases: [string[], RegExp][] = [
      [['allocate', ...MODEL, '--strategy', 'best', '--out', join(dir, 'x.json')], /--strategy must be/],
      [['allocate', ...MODEL, '--strategy', 'uniform', '--format', 'Q9_0', '--out', join(dir, 'x.json')], /unknown weight format "Q9_0"/],
      [['allocate', ...MODEL, '--strategy', 'solve', '--budget', 'bpw=four', '--out', join(dir, 'x.json')], /--budget/],
      [['allocate', ...MODEL, '--strategy', 'ranked', '--low', 'Q4_0', '--n', '1', '--out', join(dir, 'x.json')], /--metric ID/],
      [['export', ...MODEL, '--alloc', q8, '--to', 'onnx', '--out', join(dir, 'x')], /--to must be/],
    ];
    for (const [args, re] of cases) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(re);
      expect(r.out).toBe('');
    }
  });
});
