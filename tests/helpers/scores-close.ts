// Closeness of LayerScores records field by field (NaN-aware), for tests that compare two ways of
// computing the same metric (scan-based builders vs the metric modules, GPU scans vs CPU scans).
import { expect } from 'vitest';
import type { LayerScores } from '../../src/core/metrics/types.ts';
import { expectAllClose, type Tol } from './close.ts';

/** NaN-aware closeness: NaN where expected NaN, close elsewhere. */
export function expectClosish(got: ArrayLike<number>, want: ArrayLike<number>, t: Tol, what: string): void {
  expect(got.length, `${what} length`).toBe(want.length);
  const g = Array.from(got);
  const w = Array.from(want);
  expect(g.map(Number.isNaN), `${what} NaN positions`).toEqual(w.map(Number.isNaN));
  expectAllClose(g.filter((_, i) => !Number.isNaN(w[i])), w.filter((v) => !Number.isNaN(v)), t, what);
}

/** Every numeric field of two LayerScores (perBlock, sublayers, perToken, matrix, perTensor, numeric extras). */
export function expectScoresClose(got: LayerScores, want: LayerScores, t: Tol, what: string): void {
  expect(got.metricId).toBe(want.metricId);
  expect(got.label).toBe(want.label);
  expect(got.higherIsMoreImportant).toBe(want.higherIsMoreImportant);
  expectClosish(got.perBlock, want.perBlock, t, `${what} perBlock`);
  expect(!!got.perSublayer).toBe(!!want.perSublayer);
  if (want.perSublayer) {
    expectClosish(got.perSublayer!.attn, want.perSublayer.attn, t, `${what} attn`);
    expectClosish(got.perSublayer!.mlp, want.perSublayer.mlp, t, `${what} mlp`);
  }
  expect(!!got.perToken).toBe(!!want.perToken);
  if (want.perToken) expectClosish(got.perToken!.flat(), want.perToken.flat(), t, `${what} perToken`);
  expect(!!got.matrix).toBe(!!want.matrix);
  if (want.matrix) expectClosish(got.matrix!.flat(), want.matrix.flat(), t, `${what} matrix`);
  expect(Object.keys(got.perTensor ?? {})).toEqual(Object.keys(want.perTensor ?? {}));
  if (want.perTensor) expectClosish(Object.values(got.perTensor!), Object.values(want.perTensor), t, `${what} perTensor`);
  expect(Object.keys(got.extra ?? {}).sort()).toEqual(Object.keys(want.extra ?? {}).sort());
  for (const [k, v] of Object.entries(want.extra ?? {})) {
    if (Array.isArray(v)) expectClosish(got.extra![k] as number[], v as number[], t, `${what} extra.${k}`);
  }
}

