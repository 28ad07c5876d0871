// The page's handle on the engine worker, the one-job-at-a-time runner, and the conversion of thrown
// errors (which reach the page through comlink as plain Error objects) into what the page shows.

import { engineClient, progressProxy, callbackProxy, type EngineClient } from '../worker/client.ts';
import type { ProgressFn } from '../worker/api.ts';
import { workbench, type JobKind, type UserError } from '../store/index.ts';

export { progressProxy, callbackProxy };

export function engine(): EngineClient {
  return engineClient();
}

/**
 * A progress callback for the worker that forwards at most one update per animation frame, and a
 * stop() after which late updates (still queued in the frame) are dropped.
 */
export function throttledProgress(fn: ProgressFn): { progress: ProgressFn; stop: () => void } {
  let pending: Parameters<ProgressFn>[0] | null = null;
  let scheduled = false;
  let stopped = false;
  const progress = progressProxy((p) => {
    pending = p;
    if (scheduled || stopped) return;
    scheduled = true;
    const flush = () => {
      scheduled = false;
      if (pending && !stopped) fn(pending);
    };
    if (typeof requestAnimationFrame === 'function') requestAnimationFrame(flush);
    else setTimeout(flush, 16);
  });
  return { progress, stop: () => (stopped = true) };
}

let chain: Promise<unknown> = Promise.resolve();

/**
 * Runs engine jobs one at a time, in call order (the engine has one cancel token and one device
 * queue). The store's `job` names the job running now.
 */
export function runJob<T>(kind: JobKind, label: string, fn: () => Promise<T>): Promise<T> {
  const run = async (): Promise<T> => {
    workbench.setState({ job: { kind, label } });
    try {
      return await fn();
    } finally {
      workbench.setState({ job: null });
    }
  };
  const p = chain.then(run, run);
  chain = p.catch(() => undefined);
  return p;
}

/** Cooperative cancellation of the running engine job (checked between layers, steps and chunks). */
export async function cancelJob(): Promise<void> {
  await engine().cancel();
}

export function isCancelled(e: unknown): boolean {
  return e instanceof Error && (e.name === 'CancelledError' || e.message === 'cancelled');
}

/** The message, hint and code of a thrown value (LoadError carries hint and code when they survive the worker boundary). */
export function toUserError(e: unknown, during: string): UserError {
  if (e instanceof Error || (typeof e === 'object' && e !== null && 'message' in e)) {
    const x = e as { message?: unknown; hint?: unknown; code?: unknown };
    return {
      message: String(x.message ?? e),
      ...(typeof x.hint === 'string' && x.hint ? { hint: x.hint } : {}),
      ...(typeof x.code === 'string' && x.code ? { code: x.code } : {}),
      during,
    };
  }
  return { message: String(e), during };
}
