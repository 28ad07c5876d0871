// The i-quant codebooks (src/core/quant/iq-grids.ts, transcribed from gguf-py's packed form): sizes, every
// packed index valid, entries strictly sorted by packed code (as ggml's tables are), and entries spot-checked
// against the uint64/uint32 literals of ggml-common.h (iq2xxs_grid, iq2xs_grid, iq2s_grid, iq3xxs_grid,
// iq3s_grid, iq1s_grid). The dequant vectors exercise ~128 further random entries per format.
import { describe, expect, it } from 'vitest';
import {
  IQ1S_GRID, IQ2S_GRID, IQ2XS_GRID, IQ2XXS_GRID, IQ3S_GRID, IQ3XXS_GRID, expandGrid, gridCodes, type GridSpec,
} from '../../src/core/quant/iq-grids.ts';

/** Entry i as ggml writes it: a little-endian integer literal of its bytes. */
function literal(g: GridSpec, i: number): string {
  const t = expandGrid(g);
  let s = '0x';
  for (let j = g.width - 1; j >= 0; j--) s += ((t[i * g.width + j] + 256) & 255).toString(16).padStart(2, '0');
  return s;
}

const GRIDS: [string, GridSpec, number, number, [number, string][]][] = [
  ['iq2xxs_grid', IQ2XXS_GRID, 256, 8, [[0, '0x0808080808080808'], [1, '0x080808080808082b'], [200, '0x192b081908080808']]],
  ['iq2xs_grid', IQ2XS_GRID, 512, 8, [[333, '0x1919080808081919'], [334, '0x1919080808082b08'], [511, '0x2b2b2b2b2b2b2b2b']]],
  ['iq2s_grid', IQ2S_GRID, 1024, 8, [[777, '0x192b081908082b08'], [778, '0x192b081908190819'], [1023, '0x2b2b2b2b2b2b2b2b']]],
  ['iq3xxs_grid', IQ3XXS_GRID, 256, 4, [[0, '0x04040404'], [150, '0x1c0c1404']]],
  ['iq3s_grid', IQ3S_GRID, 512, 4, [[0, '0x01010101'], [400, '0x090f0907'], [401, '0x090f0b03']]],
  ['iq1s_grid', IQ1S_GRID, 2048, 8, [[0, '0xffffffffffffffff'], [1500, '0x01ff00ff00ffff00'], [1501, '0x01ff00ff00ff00ff'], [2047, '0x0101010101010101']]],
];

describe('i-quant codebooks', () => {
  for (const [name, g, entries, width, spots] of GRIDS) {
    it(`${name}: ${entries} x ${width}, valid, sorted, spot entries as in ggml-common.h`, () => {
      expect(g.entries).toBe(entries);
      expect(g.width).toBe(width);
      const t = expandGrid(g); // throws on an index outside the value map
      expect(t.length).toBe(entries * width);
      const codes = gridCodes(g);
      for (let i = 1; i < codes.length; i++) expect(codes[i] > codes[i - 1], `${name} entry ${i} not after ${i - 1}`).toBe(true);
      for (const [i, lit] of spots) expect(literal(g, i), `${name}[${i}]`).toBe(lit);
    });
  }
});
