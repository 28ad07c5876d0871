// Errors cross the worker boundary with their `hint` and `code` (comlink's default handler keeps only
// name, message and stack), so the page can show the loader's advice for any file, URL or hub load.
// Installed on both sides: engine.worker.ts and client.ts.
import * as Comlink from 'comlink';

interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  hint?: string;
  code?: string;
}

interface Thrown {
  value: unknown;
}

export function installErrorTransfer(): void {
  const base = Comlink.transferHandlers.get('throw');
  if (!base) return;
  Comlink.transferHandlers.set('throw', {
    canHandle: base.canHandle,
    serialize(thrown: unknown): [unknown, Transferable[]] {
      const v = (thrown as Thrown).value;
      if (v instanceof Error) {
        const e = v as Error & { hint?: unknown; code?: unknown };
        const out: SerializedError = { name: e.name, message: e.message, stack: e.stack };
        if (typeof e.hint === 'string') out.hint = e.hint;
        if (typeof e.code === 'string') out.code = e.code;
        return [{ isError: true, value: out }, []];
      }
      return [{ isError: false, value: v }, []];
    },
    deserialize(s: unknown): never {
      const { isError, value } = s as { isError: boolean; value: unknown };
      if (isError) {
        const v = value as SerializedError;
        const e = Object.assign(new Error(v.message), { name: v.name, stack: v.stack });
        if (v.hint !== undefined) Object.assign(e, { hint: v.hint });
        if (v.code !== undefined) Object.assign(e, { code: v.code });
        throw e;
      }
      throw value;
    },
  } as Comlink.TransferHandler<unknown, unknown>);
}
