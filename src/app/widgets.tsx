// Small shared pieces of the panels: the error box, a progress bar, a panel frame.
import type { ReactNode } from 'react';
import type { ProgressState, UserError } from '../store/index.ts';

export function ErrorBox(props: { error: UserError | null; onDismiss?: () => void; testId?: string }) {
  const { error, onDismiss, testId } = props;
  if (!error) return null;
  return (
    <div className="error-box" role="alert" data-testid={testId}>
      <div className="error-title">Error while {error.during}</div>
      <div className="error-message" data-testid={testId ? `${testId}-message` : undefined}>{error.message}</div>
      {error.hint ? <div className="error-hint" data-testid={testId ? `${testId}-hint` : undefined}>{error.hint}</div> : null}
      {onDismiss ? (
        <button type="button" className="small" onClick={onDismiss}>
          Dismiss
        </button>
      ) : null}
    </div>
  );
}

export function ProgressBar(props: { progress: ProgressState | null; label: string; testId?: string }) {
  const { progress, label, testId } = props;
  const frac = progress && progress.total > 0 ? Math.min(1, progress.done / progress.total) : null;
  return (
    <div className="progress" data-testid={testId}>
      <progress max={1} value={frac ?? undefined} aria-label={label} />
      <span className="progress-text">
        {progress?.what ? `${progress.what}: ` : ''}
        {frac !== null ? `${Math.round(frac * 100)}%` : 'working…'}
      </span>
    </div>
  );
}

export function Panel(props: { id: string; title: string; intro?: ReactNode; children: ReactNode; wide?: boolean }) {
  return (
    <section className={props.wide ? 'panel wide' : 'panel'} aria-labelledby={`${props.id}-h`} data-testid={`panel-${props.id}`}>
      <h2 id={`${props.id}-h`}>{props.title}</h2>
      {props.intro ? <p className="intro">{props.intro}</p> : null}
      {props.children}
    </section>
  );
}
