// The page side of the worker: one engine worker per page, wrapped with comlink. Progress and token
// callbacks are passed as comlink proxies. Cancellation is cooperative (engine.cancel()), never by
// terminating the worker that owns the device.
import * as Comlink from 'comlink';
import type { EngineApi, ProgressFn } from './api.ts';
import { installErrorTransfer } from './error-transfer.ts';

installErrorTransfer();

export type EngineClient = Comlink.Remote<EngineApi>;

let worker: Worker | null = null;
let client: EngineClient | null = null;

export function engineClient(): EngineClient {
  if (!client) {
    worker = new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module', name: 'layerlab-engine' });
    client = Comlink.wrap<EngineApi>(worker);
  }
  return client;
}

export function progressProxy(fn: ProgressFn): ProgressFn {
  return Comlink.proxy(fn);
}

export function callbackProxy<T extends (...args: never[]) => unknown>(fn: T): T {
  return Comlink.proxy(fn);
}
