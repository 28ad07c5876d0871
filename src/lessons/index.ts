// The guided lessons, in the order the page offers them.
import type { Lesson } from './types.ts';
import { whatIsImportance } from './what-is-importance.ts';
import { dropLayers } from './drop-layers.ts';
import { mixedPrecision } from './mixed-precision.ts';

export type { Lesson, LessonStep, LessonAction, PanelId } from './types.ts';

export const LESSONS: readonly Lesson[] = [whatIsImportance, dropLayers, mixedPrecision];

export function lessonById(id: string | null): Lesson | undefined {
  return LESSONS.find((l) => l.id === id);
}
