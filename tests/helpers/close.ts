// allClose as DESIGN.md states it: |got - want| <= atol + rtol * |want|, elementwise.
// A failure names the worst indices so a broken kernel points at itself.
import { expect } from 'vitest';

export interface Tol {
  atol: number;
  rtol: number;
}

export function closeReport(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tol): string | null {
  if (got.length !== want.length) return `length ${got.length} != expected ${want.length}`;
  const bad: { i: number; g: number; w: number; excess: number }[] = [];
  let maxAbs = 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    const d = Math.abs(g - w);
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : Math.max(maxAbs, d);
    const lim = tol.atol + tol.rtol * Math.abs(w);
    if (!(d <= lim)) bad.push({ i, g, w, excess: Number.isNaN(d) ? Infinity : d - lim });
  }
  if (bad.length === 0) return null;
  bad.sort((a, b) => b.excess - a.excess);
  const worst = bad.slice(0, 8).map((b) => `[${b.i}] got ${b.g} want ${b.w}`).join('; ');
  return `${bad.length}/${want.length} values outside atol=${tol.atol} rtol=${tol.rtol} (max |diff| ${maxAbs}); worst: ${worst}`;
}

export function expectAllClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tol, what = 'values'): void {
  const r = closeReport(got, want, tol);
  expect(r, `${what}: ${r}`).toBeNull();
}
