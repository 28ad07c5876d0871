// Running the `layerlab` CLI in-process for tests: main(argv) with string sinks for stdout and stderr.
import { expect } from 'vitest';
import { main } from '../../src/cli/main.ts';

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

export async function runCli(args: string[]): Promise<CliRun> {
  const o: string[] = [];
  const e: string[] = [];
  const code = await main(args, { write: (s: string) => o.push(s) }, { write: (s: string) => e.push(s) });
  return { code, out: o.join(''), err: e.join('') };
}

// CLI JSON is read field by field against the README, whose schema is the contract under test, so it
// is typed loosely on purpose.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** Runs a command with --json, expects exit 0 and an empty stderr, and parses stdout. */
export async function runCliJson(args: string[]): Promise<Json> {
  const r = await runCli([...args, '--json']);
  expect(r.err, `stderr of ${args.join(' ')}`).toBe('');
  expect(r.code, `exit code of ${args.join(' ')}`).toBe(0);
  return JSON.parse(r.out);
}
