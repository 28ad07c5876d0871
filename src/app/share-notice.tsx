// What the share link the page was opened with did: restored the model / preset / plan, or why not
// (as text: nothing from the URL is rendered as HTML).
import { patchShare, useWorkbench, workbench } from '../store/index.ts';
import { ErrorBox } from './widgets.tsx';

export function ShareNotice() {
  const share = useWorkbench((s) => s.share);
  if (share.error) {
    return (
      <div className="gpu-notice" data-testid="share-notice" data-ok="false">
        <ErrorBox error={share.error} testId="share-error" onDismiss={() => patchShare(workbench, { error: null })} />
      </div>
    );
  }
  if (!share.restored) return null;
  const r = share.restored;
  return (
    <div className="gpu-notice" role="status" data-testid="share-notice" data-ok="true">
      <strong>Opened from a share link:</strong> model <code>{r.model}</code>
      {r.preset ? <>, calibration preset “{r.preset}”</> : null}
      {r.allocation ? ', and its allocation plan (see the Allocation and Export panels)' : ''}.
    </div>
  );
}
