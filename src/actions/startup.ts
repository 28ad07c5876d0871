// The first screen works with no choices: list the models directory, load the bundled default
// (stories260K), tokenize the preset text, then measure its NLL, run a first importance pass and a short greedy generation.

import { workbench } from '../store/index.ts';
import { loadCatalog, loadDefault } from './load-model.ts';
import { measureNll } from './nll.ts';
import { runImportance } from './importance.ts';
import { generate } from './generate.ts';

let started = false;

export async function startup(): Promise<void> {
  if (started) return;
  started = true;
  const catalog = loadCatalog();
  const ok = await loadDefault();
  await catalog;
  if (!ok || !workbench.getState().model.info) return;
  await measureNll();
  await runImportance();
  await generate();
}
