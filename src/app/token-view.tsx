// Token view: the calibration text as the model's tokens, each piece on its own coloured chip so the
// boundaries show; hover (or arrow keys when focused) shows the token's position, id and raw piece.
import { useState, type KeyboardEvent } from 'react';
import { displayPiece } from './pieces.ts';

const MAX_SHOWN = 3000;

export function TokenView(props: { ids: number[]; pieces: string[]; tokenizerKind: string | undefined; bosId?: number | null }) {
  const { ids, pieces, tokenizerKind, bosId } = props;
  const [sel, setSel] = useState<number | null>(null);
  const n = Math.min(ids.length, MAX_SHOWN);
  const onKey = (e: KeyboardEvent<HTMLDivElement>) => {
    if (n === 0) return;
    if (e.key === 'ArrowRight') setSel((s) => Math.min(n - 1, (s ?? -1) + 1));
    else if (e.key === 'ArrowLeft') setSel((s) => Math.max(0, (s ?? 1) - 1));
    else if (e.key === 'Home') setSel(0);
    else if (e.key === 'End') setSel(n - 1);
    else return;
    e.preventDefault();
  };
  return (
    <div className="token-view-wrap">
      <div className="token-info mono" aria-live="polite" data-testid="token-info">
        {sel !== null && sel < n ? (
          <>
            token #{sel}: id {ids[sel]}, piece {JSON.stringify(pieces[sel])}
          </>
        ) : (
          <span className="muted">Hover a token (or focus the view and use the arrow keys) to see its id.</span>
        )}
      </div>
      <div className="token-view" tabIndex={0} role="group" aria-label="tokens of the calibration text" onKeyDown={onKey} data-testid="token-view">
        {ids.slice(0, n).map((id, i) => {
          const text = id === bosId ? (pieces[i] ?? '').trim() || 'BOS' : displayPiece(pieces[i] ?? '', tokenizerKind);
          const nl = text.includes('\n');
          return (
            <span
              key={i}
              className={`tok c${i % 4}${sel === i ? ' sel' : ''}${id === bosId ? ' special' : ''}`}
              title={`#${i} id ${id} ${JSON.stringify(pieces[i] ?? '')}`}
              data-id={id}
              onMouseEnter={() => setSel(i)}
            >
              {nl ? text.replace(/\n/g, '↵') : text}
              {nl ? <br /> : null}
            </span>
          );
        })}
        {ids.length > n ? <span className="muted"> … {ids.length - n} more tokens not shown</span> : null}
      </div>
    </div>
  );
}
