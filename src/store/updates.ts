// Update helpers: each replaces one slice of the state with a patched copy (the state stays plain
// data; see state.ts). They take the store as a parameter so tests can use a fresh one.

import type { StoreApi } from 'zustand/vanilla';
import type {
  CalibrationState, ExperimentsState, GenerationState, ImportanceState, LessonState, ModelState, NllState, ShareState, UiState, WorkbenchState,
} from './state.ts';

type Api = StoreApi<WorkbenchState>;

export function patchModel(s: Api, p: Partial<ModelState>): void {
  s.setState((st) => ({ model: { ...st.model, ...p } }));
}
export function patchCalibration(s: Api, p: Partial<CalibrationState>): void {
  s.setState((st) => ({ calibration: { ...st.calibration, ...p } }));
}
export function patchGeneration(s: Api, p: Partial<GenerationState>): void {
  s.setState((st) => ({ generation: { ...st.generation, ...p } }));
}
export function patchNll(s: Api, p: Partial<NllState>): void {
  s.setState((st) => ({ nll: { ...st.nll, ...p } }));
}
export function patchImportance(s: Api, p: Partial<ImportanceState>): void {
  s.setState((st) => ({ importance: { ...st.importance, ...p } }));
}
export function patchUi(s: Api, p: Partial<UiState>): void {
  s.setState((st) => ({ ui: { ...st.ui, ...p } }));
}
export function patchExperiments(s: Api, p: Partial<ExperimentsState>): void {
  s.setState((st) => ({ experiments: { ...st.experiments, ...p } }));
}
export function patchLesson(s: Api, p: Partial<LessonState>): void {
  s.setState((st) => ({ lesson: { ...st.lesson, ...p } }));
}
export function patchShare(s: Api, p: Partial<ShareState>): void {
  s.setState((st) => ({ share: { ...st.share, ...p } }));
}

/** Appends one streamed token (ids and pieces grow; the live rate is recomputed). */
export function appendGenerated(s: Api, id: number, piece: string, now: number): void {
  s.setState((st) => {
    const g = st.generation;
    const n = g.ids.length + 1;
    const secs = g.startedAt !== null ? (now - g.startedAt) / 1000 : 0;
    return { generation: { ...g, ids: [...g.ids, id], pieces: [...g.pieces, piece], tokensPerSecond: secs > 0 ? n / secs : null } };
  });
}

/** A model finished loading: it replaces the old one; results computed on the old one are kept but marked stale by serial. */
export function modelLoaded(s: Api, info: ModelState['info'], sourceLabel: string, sourceKey: string | null): void {
  s.setState((st) => ({
    model: { ...st.model, status: 'ready', info, serial: st.model.serial + 1, sourceLabel, sourceKey, loading: null, error: null },
  }));
}

/** Whether a result was computed on the model loaded now. */
export function isCurrent(st: WorkbenchState, modelSerial: number | undefined): boolean {
  return modelSerial !== undefined && modelSerial === st.model.serial && st.model.info !== null;
}
