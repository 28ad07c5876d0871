// The first screen works with no choices: list the models directory, load the bundled default
// (stories260K), tokenize the preset text, then measure its NLL, run a first importance pass and a short greedy generation.

import { workbench } from '../store/index.ts';
import { loadCatalog, loadDefault } from './load-model.ts';
import { openSharedState } from './share.ts';
import { measureNll } from './nll.ts';
import { runImportance } from './importance.ts';
import { generate } from './generate.ts';

let started = false;

export async function startup(): Promise<void> {
  if (started) return;
  started = true;
  const catalog = loadCatalog();
  // A share link in the URL (#s=...) names the model, preset and allocation; otherwise the default.
  const ok = (await openSharedState(catalog)) ?? (await loadDefault());
  await catalog;
  if (!ok || !workbench.getState().model.info) return;
  // Each step runs only while the default is still the loaded model (the user may switch meanwhile).
  const serial = workbench.getState().model.serial;
  for (const step of [measureNll, runImportance, generate]) {
    if (workbench.getState().model.serial !== serial) return;
    await step();
  }
}
