// Per metric group progress of an importance run: one line per group in the order the engine runs
// them (forward passes with taps first), each waiting, running with its own progress bar and step,
// done in N s (the engine's timing once the run has finished), or stopped (cancel / error).
import type { GroupProgressRow } from '../core/analysis/progress.ts';

const STATE_TEXT: Record<GroupProgressRow['state'], string> = { waiting: 'waiting', running: 'running', done: 'done', stopped: 'stopped' };

/** The line's status text, e.g. "running 4/15", "done in 0.12 s". */
export function groupStatus(r: GroupProgressRow): string {
  if (r.state === 'done') return r.ms === null ? 'done' : `done in ${(r.ms / 1000).toFixed(r.ms < 10_000 ? 2 : 1)} s`;
  if (r.state === 'running') return r.total > 1 ? `running ${r.done}/${r.total}` : 'running';
  if (r.state === 'stopped') return r.total > 0 ? `stopped at ${r.done}/${r.total}` : 'stopped';
  return STATE_TEXT[r.state];
}

export function MetricProgress(props: { rows: GroupProgressRow[]; labels: Record<string, string> }) {
  const { rows, labels } = props;
  if (rows.length === 0) return null;
  return (
    <ul className="metric-progress" aria-label="Progress per metric" data-testid="metric-progress" style={{ listStyle: 'none', padding: 0, margin: '6px 0' }}>
      {rows.map((r) => (
        <li key={r.id} data-testid={`metric-progress-${r.id}`} data-state={r.state} style={{ display: 'flex', gap: 8, alignItems: 'center', opacity: r.state === 'waiting' ? 0.6 : 1 }}>
          <span title={labels[r.id] ?? r.id} style={{ flex: '0 0 22em', overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }}>
            {labels[r.id] ?? r.id}
          </span>
          <progress max={1} value={r.state === 'done' ? 1 : r.state === 'waiting' || r.total === 0 ? 0 : r.done / r.total} aria-label={`${labels[r.id] ?? r.id}: ${groupStatus(r)}`} />
          <span className="muted">{groupStatus(r)}</span>
        </li>
      ))}
    </ul>
  );
}
