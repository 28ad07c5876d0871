// The store's public surface: the page's store, its React hook, and the update helpers.
import { useStore } from 'zustand';
import { workbench, type WorkbenchState } from './state.ts';

export * from './state.ts';
export * from './updates.ts';
export * from './catalog.ts';
export * from './allocation.ts';
export * from './compare.ts';

/** Subscribe a component to a selected part of the workbench state. */
export function useWorkbench<T>(select: (s: WorkbenchState) => T): T {
  return useStore(workbench, select);
}
