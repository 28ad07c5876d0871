// Fit check IO (src/actions/fit-check.ts): the GGUF tensor table read through a range reader (growing
// prefixes until the header fits) equals the full parser's, on the wild llama-2-tiny-random GGUF (32k
// vocabulary: a large header); readUrlRange with a server that honours Range (206) and one that ignores it (200).
import { describe, expect, it } from 'vitest';
import { readUrlRange, tensorTable } from '../../src/actions/fit-check.ts';
import { parseGguf } from '../../src/core/formats/gguf.ts';
import fs from 'node:fs';
import { modelPath, readModelBytes } from '../helpers/models.ts';

describe('fit check IO', () => {
  it('GGUF tensor table through a range reader equals the full parse', async () => {
    const dir = modelPath('wild/llama-2-tiny-random');
    const name = fs.readdirSync(dir).find((f) => f.endsWith('.gguf'))!;
    const bytes = readModelBytes(`wild/llama-2-tiny-random/${name}`);
    const reads: [number, number][] = [];
    const t = await tensorTable(name, bytes.length, async (s, e) => (reads.push([s, e]), bytes.slice(s, e)));
    const full = parseGguf(bytes).tensors.map((x) => ({ name: x.name, bytes: x.nbytes }));
    expect(t).toEqual(full);
    expect(reads.every(([s, e]) => s === 0 && e <= bytes.length)).toBe(true);
    expect(await tensorTable('model.bin', 100, async () => new Uint8Array(0))).toBeNull();
  });

  it('readUrlRange: 206 bodies as sent, a 200 read only as far as needed', async () => {
    const file = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    const seen: (string | null)[] = [];
    const honour = (async (_u: string, init?: RequestInit) => {
      const r = new Headers(init?.headers).get('range');
      seen.push(r);
      const m = /^bytes=(\d+)-(\d+)$/.exec(r ?? '')!;
      return new Response(file.slice(Number(m[1]), Number(m[2]) + 1), { status: 206 });
    }) as typeof fetch;
    expect([...(await readUrlRange('u', 10, 20, honour))]).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    expect(seen).toEqual(['bytes=10-19']);
    let pulled = 0;
    const ignore = (async () =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull(c) {
            if (pulled >= 300) return c.close();
            c.enqueue(file.slice(pulled, pulled + 50));
            pulled += 50;
          },
        }),
        { status: 200 },
      )) as typeof fetch;
    expect([...(await readUrlRange('u', 60, 64, ignore))]).toEqual([60, 61, 62, 63]);
    expect(pulled).toBeLessThan(300);
  });
});
