// The workbench page: header, then the panels. Files dropped anywhere on the page load as a model.
import { useEffect, useState } from 'react';
import { patchUi, useWorkbench, workbench } from '../store/index.ts';
import { filesFromDrop, loadLocalFiles } from '../actions/load-model.ts';
import { Header } from './header.tsx';
import { ModelPanel } from './model-panel.tsx';
import { CalibrationPanel } from './calibration-panel.tsx';
import { GeneratePanel } from './generate-panel.tsx';
import { NllPanel } from './nll-panel.tsx';
import { ImportancePanel } from './importance-panel.tsx';
import { PanelBoundary } from './panel-boundary.tsx';
import { AllocationPanel } from './allocation-panel.tsx';
import { ComparePanel } from './compare-panel.tsx';
import { GpuNotice } from './gpu-notice.tsx';
import { ShareNotice } from './share-notice.tsx';
import { Lessons } from './lessons.tsx';
import { ExperimentsPanel } from './experiments-panel.tsx';
import { ExportPanel } from './export-panel.tsx';

function useTheme(): void {
  const theme = useWorkbench((s) => s.ui.theme);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    document.documentElement.style.colorScheme = theme;
  }, [theme]);
  useEffect(() => {
    const mq = window.matchMedia?.('(prefers-color-scheme: dark)');
    if (!mq) return;
    const on = () => {
      if (!workbench.getState().ui.themeChosen) patchUi(workbench, { theme: mq.matches ? 'dark' : 'light' });
    };
    mq.addEventListener('change', on);
    return () => mq.removeEventListener('change', on);
  }, []);
}

function usePageDrop(): boolean {
  const [dragging, setDragging] = useState(false);
  useEffect(() => {
    let depth = 0;
    const hasFiles = (e: DragEvent) => [...(e.dataTransfer?.types ?? [])].includes('Files');
    const enter = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      depth++;
      setDragging(true);
    };
    const leave = () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) setDragging(false);
    };
    const over = (e: DragEvent) => {
      if (hasFiles(e)) e.preventDefault();
    };
    const drop = (e: DragEvent) => {
      if (!e.dataTransfer || !hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      setDragging(false);
      const target = e.target as HTMLElement | null;
      // Text dropped on the calibration box is the browser's business; files anywhere else load a model.
      if (target?.closest?.('textarea')) return;
      void filesFromDrop(e.dataTransfer).then(loadLocalFiles);
    };
    window.addEventListener('dragenter', enter);
    window.addEventListener('dragleave', leave);
    window.addEventListener('dragover', over);
    window.addEventListener('drop', drop);
    return () => {
      window.removeEventListener('dragenter', enter);
      window.removeEventListener('dragleave', leave);
      window.removeEventListener('dragover', over);
      window.removeEventListener('drop', drop);
    };
  }, []);
  return dragging;
}

export function App() {
  useTheme();
  const dragging = usePageDrop();
  return (
    <>
      <a className="skip" href="#main">
        Skip to the panels
      </a>
      <Header />
      <GpuNotice />
      <ShareNotice />
      <Lessons />
      <main id="main" className="panels">
        <PanelBoundary name="Model">
          <ModelPanel />
        </PanelBoundary>
        <PanelBoundary name="Calibration text">
          <CalibrationPanel />
        </PanelBoundary>
        <PanelBoundary name="Generate">
          <GeneratePanel />
        </PanelBoundary>
        <PanelBoundary name="Perplexity">
          <NllPanel />
        </PanelBoundary>
        <PanelBoundary name="Layer importance">
          <ImportancePanel />
        </PanelBoundary>
        <PanelBoundary name="Allocation">
          <AllocationPanel />
        </PanelBoundary>
        <PanelBoundary name="Compare">
          <ComparePanel />
        </PanelBoundary>
        <PanelBoundary name="Experiments">
          <ExperimentsPanel />
        </PanelBoundary>
        <PanelBoundary name="Export and share">
          <ExportPanel />
        </PanelBoundary>
      </main>
      {dragging ? (
        <div className="drop-overlay" aria-hidden="true">
          Drop the model files to load them
        </div>
      ) : null}
    </>
  );
}
