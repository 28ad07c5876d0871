// Calibration text: choose a preset, type or load a text file, and tokenize it with the loaded
// model's tokenizer (engine.tokenize) for the token count and the token view.

import { patchCalibration, workbench } from '../store/index.ts';
import { engine } from './engine.ts';

/** Text files larger than this are refused (calibration needs a few thousand tokens at most). */
export const MAX_TEXT_BYTES = 4 * 1024 * 1024;

let timer: ReturnType<typeof setTimeout> | null = null;

export function setCalibrationText(text: string, presetId: string | null, fileName: string | null = null): void {
  patchCalibration(workbench, { text, presetId, fileName, error: null });
  if (timer) clearTimeout(timer);
  timer = setTimeout(() => {
    timer = null;
    void retokenize();
  }, 250);
}

export async function loadTextFile(file: File): Promise<void> {
  if (file.size > MAX_TEXT_BYTES) {
    patchCalibration(workbench, { error: `${file.name} is ${file.size.toLocaleString('en-US')} bytes; calibration texts are limited to ${MAX_TEXT_BYTES.toLocaleString('en-US')} bytes` });
    return;
  }
  try {
    const text = await file.text();
    setCalibrationText(text, null, file.name);
  } catch (e) {
    patchCalibration(workbench, { error: `could not read ${file.name}: ${e instanceof Error ? e.message : String(e)}` });
  }
}

/** Tokenizes the current text with the loaded model (no-op without a model). Returns the ids. */
export async function retokenize(): Promise<number[] | null> {
  const st = workbench.getState();
  if (!st.model.info) return null;
  const text = st.calibration.text;
  const serial = st.model.serial;
  patchCalibration(workbench, { tokenizing: true });
  try {
    const r = await engine().tokenize(text);
    const now = workbench.getState();
    if (now.calibration.text === text && now.model.serial === serial) {
      patchCalibration(workbench, { tokens: { ids: r.ids, pieces: r.pieces, text, modelSerial: serial }, tokenizing: false, error: null });
    }
    return r.ids;
  } catch (e) {
    patchCalibration(workbench, { tokenizing: false, error: `tokenizer: ${e instanceof Error ? e.message : String(e)}` });
    return null;
  }
}
