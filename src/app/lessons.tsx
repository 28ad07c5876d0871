// Guided lesson mode: a bar under the header that lists the lessons, and, with one open, shows the step
// (what is going on, what to click or look at), outlines and scrolls to the panel in question, and
// carries out the step's actions on the page. Back / Next are buttons, so a teacher can drive it from
// the keyboard (Tab to Next, Enter or Space) or a presenter's clicker focused on it.
import { useEffect, useRef } from 'react';
import { useWorkbench } from '../store/index.ts';
import { LESSONS, lessonById } from '../lessons/index.ts';
import { closeLesson, moveStep, openLesson, runStep } from '../actions/lessons.ts';
import './workbench-extra.css';

function useOutline(panel: string | undefined, key: string): void {
  useEffect(() => {
    if (!panel) return;
    const el = document.querySelector<HTMLElement>(`[data-testid=panel-${panel}]`);
    if (!el) return;
    el.classList.add('lesson-focus');
    el.scrollIntoView?.({ behavior: 'smooth', block: 'start' });
    return () => el.classList.remove('lesson-focus');
  }, [panel, key]);
}

export function Lessons() {
  const { id, step } = useWorkbench((s) => s.lesson);
  const job = useWorkbench((s) => s.job);
  const lesson = lessonById(id);
  const s = lesson?.steps[step];
  const next = useRef<HTMLButtonElement>(null);
  useOutline(s?.panel, `${id}:${step}`);
  useEffect(() => {
    if (lesson) next.current?.focus();
  }, [lesson]);

  if (!lesson || !s) {
    return (
      <nav className="lesson-bar closed" aria-label="guided lessons" data-testid="lessons">
        <div className="lesson-nav">
          <strong>Guided lessons:</strong>
          {LESSONS.map((l, i) => (
            <button key={l.id} type="button" className="lesson-card" data-testid={`lesson-open-${l.id}`} onClick={() => openLesson(l.id)} title={l.summary}>
              {i + 1}. {l.title} <span className="muted">({l.minutes} min)</span>
            </button>
          ))}
        </div>
      </nav>
    );
  }
  const last = step === lesson.steps.length - 1;
  return (
    <section className="lesson-bar" aria-label={`lesson: ${lesson.title}`} data-testid="lesson" data-lesson={lesson.id} data-step={step}>
      <h2>
        {lesson.title} <span className="muted">— step {step + 1} of {lesson.steps.length}</span>
      </h2>
      <div aria-live="polite">
        <div className="lesson-step-title" data-testid="lesson-step-title">{s.title}</div>
        <p className="lesson-body">{s.body}</p>
        <p className="lesson-look">
          <strong>Look:</strong> {s.look}
        </p>
      </div>
      <div className="lesson-nav">
        <button type="button" onClick={() => moveStep(-1)} disabled={step === 0} data-testid="lesson-back">
          ← Back
        </button>
        {last ? (
          <button type="button" className="primary" ref={next} onClick={closeLesson} data-testid="lesson-finish">
            Finish
          </button>
        ) : (
          <button type="button" className="primary" ref={next} onClick={() => moveStep(1)} data-testid="lesson-next">
            Next →
          </button>
        )}
        {s.actions?.length ? (
          <button type="button" onClick={() => void runStep()} disabled={job !== null} data-testid="lesson-redo" title="carry out this step's actions again">
            Do it again
          </button>
        ) : null}
        <button type="button" onClick={closeLesson} data-testid="lesson-close">
          Close the lesson
        </button>
        {job ? <span className="muted" data-testid="lesson-busy">working: {job.label}…</span> : null}
      </div>
    </section>
  );
}
