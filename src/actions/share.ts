// Share links as user commands: make the link of the current state (model id, calibration preset,
// allocation plan), and open the link the page was opened with (startup.ts calls openSharedState before
// the default model would load). A bad link, an unknown model id or an allocation that does not fit the
// model shows a visible error in the share notice and the page carries on with the default.

import { validateAllocation, type Allocation } from '../core/allocation/schema.ts';
import { commitPlan } from '../store/allocation.ts';
import { DEFAULT_MODEL_KEY, defaultEntry, patchShare, workbench, type CatalogEntry, type UserError } from '../store/index.ts';
import { decodeShare, encodeShare, parseModelId, shareTokenOf, shareUrl, type SharePayload } from '../app/share.ts';
import { presetById } from '../app/presets.ts';
import { setCalibrationText } from './calibration.ts';
import { loadEntry, loadFromHub } from './load-model.ts';

export class ShareError extends Error {
  constructor(message: string, readonly hint?: string) {
    super(message);
    this.name = 'ShareError';
  }
}

/** The payload of the current state; throws ShareError when the loaded model cannot be named in a link. */
export function currentPayload(): SharePayload {
  const st = workbench.getState();
  const key = st.model.sourceKey;
  if (!st.model.info || !key) {
    throw new ShareError(
      'the loaded model came from local files, which a link cannot carry',
      'Load it from the models list or from a Hugging Face repo id to share it.',
    );
  }
  const out: SharePayload = { v: 1, model: key, preset: st.calibration.presetId, allocation: (st.allocation?.plan as Allocation | null) ?? null };
  if (key.startsWith('hf:') && st.model.hubFile.trim()) out.file = st.model.hubFile.trim();
  return out;
}

/** The share URL of the current state (this page's address with #s=<token>). */
export async function currentShareLink(): Promise<string> {
  return shareUrl(location.href, await encodeShare(currentPayload()));
}

const shareError = (message: string, hint?: string): UserError => ({ message, ...(hint ? { hint } : {}), during: 'opening the share link' });

/**
 * Applies the share link in the page's URL, if any: sets the preset, loads the named model (waiting for
 * the catalog), then checks the allocation against the model and makes it the plan. Returns null when
 * the URL has no link or the link could not be used (the caller then loads the default), else whether
 * the model loaded.
 */
export async function openSharedState(catalog: Promise<CatalogEntry[]>, url = location.href): Promise<boolean | null> {
  const token = shareTokenOf(url);
  if (token === null) return null;
  const r = await decodeShare(token);
  if (!r.ok) {
    patchShare(workbench, { error: shareError(r.error, 'The page opened with its defaults instead.') });
    return null;
  }
  const p = r.payload;
  if (p.preset) {
    const preset = presetById(p.preset);
    if (preset) setCalibrationText(preset.text, preset.id);
  }
  const id = parseModelId(p.model)!;
  let ok: boolean;
  if (id.kind === 'catalog') {
    const entries = await catalog;
    // The default model loads from its well-known paths even where the models URL has no index.json (a hub URL).
    const entry = entries.find((e) => e.key === id.key) ?? (id.key === DEFAULT_MODEL_KEY ? defaultEntry(entries) : undefined);
    if (!entry) {
      patchShare(workbench, {
        error: shareError(`the share link names the model "${id.key}", which this site's models folder does not have`, 'The default model loads instead; the allocation is kept aside.'),
        allocation: p.allocation,
      });
      return null;
    }
    ok = await loadEntry(entry);
  } else {
    ok = await loadFromHub(id.repo, p.file ?? '');
  }
  if (!ok) {
    patchShare(workbench, { error: shareError(`the model of the share link (${p.model}) did not load`, 'See the model panel for why; the default model loads instead.'), allocation: p.allocation });
    return null;
  }
  const st = workbench.getState();
  let restoredAllocation = false;
  if (p.allocation && st.model.info) {
    const v = validateAllocation(p.allocation, st.model.info.spec);
    if (v.ok) {
      commitPlan(workbench, v.allocation, st.model.serial);
      restoredAllocation = true;
    } else {
      patchShare(workbench, {
        error: shareError(`the share link's allocation does not fit ${st.model.info.spec.name}: ${v.errors.slice(0, 2).map((e) => `${e.path}: ${e.message}`).join('; ')}`),
      });
    }
  }
  patchShare(workbench, { restored: { model: p.model, preset: p.preset, allocation: restoredAllocation }, allocation: restoredAllocation ? p.allocation : null });
  return ok;
}
