// Progress of an analysis run per metric group (src/core/analysis/analyze.ts): every progress event's
// `what` names the group it belongs to and that group's own step count, as
//   "<group> <done>/<total>: <detail>"      e.g. "ablation 4/15: ablation: block 1 attn"
// ('forward' is the calibration forwards with taps; the other groups are AnalysisMetricName). A group
// announces itself with done = 0 ("<group> 0/<total>: started") before its first step. The text stays
// readable where it is printed as is (the CLI); parseGroupWhat reads it back for the workbench's list.

export interface GroupStep {
  group: string;
  done: number;
  total: number;
  detail: string;
}

export function groupWhat(group: string, done: number, total: number, detail: string): string {
  return `${group} ${done}/${total}: ${detail}`;
}

const RE = /^([a-z][a-z0-9-]*) (\d+)\/(\d+): ([\s\S]*)$/;

/** The group step of a progress text written by groupWhat, or null for any other text. */
export function parseGroupWhat(what: string): GroupStep | null {
  const m = RE.exec(what);
  if (!m) return null;
  const done = Number(m[2]);
  const total = Number(m[3]);
  if (done > total) return null;
  return { group: m[1], done, total, detail: m[4] };
}

/** One metric group's line in a per-group progress list (plain data, kept in the store). */
export interface GroupProgressRow {
  id: string;
  state: 'waiting' | 'running' | 'done' | 'stopped';
  /** The group's own steps so far and in all. */
  done: number;
  total: number;
  /** Clock (ms, the caller's) when the group was first seen running. */
  startedAt: number | null;
  /** Duration in ms: measured by the caller's clock while running, the engine's timings at the end. */
  ms: number | null;
  detail: string;
}

/** Waiting rows for 'forward' and the given groups (in the order analyze runs them). */
export function initialGroupRows(groups: readonly string[]): GroupProgressRow[] {
  return ['forward', ...groups.filter((g) => g !== 'forward')].map((id) => ({ id, state: 'waiting', done: 0, total: 0, startedAt: null, ms: null, detail: '' }));
}

/**
 * Applies one progress text at time `now`. Groups run one after another, so a step of group g also means
 * every row before g has finished (events may have been dropped by throttling). Texts that groupWhat did
 * not write, or name no row, leave the rows as they are.
 */
export function applyGroupProgress(rows: readonly GroupProgressRow[], what: string, now: number): GroupProgressRow[] {
  const step = parseGroupWhat(what);
  const idx = step ? rows.findIndex((r) => r.id === step.group) : -1;
  if (!step || idx < 0) return rows.slice();
  return rows.map((r, i) => {
    if (i < idx) return r.state === 'done' ? r : { ...r, state: 'done', done: Math.max(r.done, r.total), ms: r.startedAt === null ? null : now - r.startedAt };
    if (i > idx) return r;
    const startedAt = r.startedAt ?? now;
    const finished = step.total > 0 && step.done >= step.total;
    return { ...r, state: finished ? 'done' : 'running', done: step.done, total: step.total, startedAt, ms: finished ? now - startedAt : null, detail: step.detail };
  });
}

/** End of a run: every row done with the engine's own timing (ms per group key; 'forward' included). */
export function finishGroupRows(rows: readonly GroupProgressRow[], timings: Record<string, number>): GroupProgressRow[] {
  return rows.map((r) => ({ ...r, state: 'done', done: Math.max(r.done, r.total), ms: timings[r.id] ?? r.ms, detail: '' }));
}

/** A cancelled or failed run: the running row stops, the rest stay as they were. */
export function stopGroupRows(rows: readonly GroupProgressRow[]): GroupProgressRow[] {
  return rows.map((r) => (r.state === 'running' ? { ...r, state: 'stopped' } : r));
}
