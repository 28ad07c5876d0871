// The page entry: initial state (theme from the saved choice or prefers-color-scheme, the default
// calibration preset), render, then the startup sequence (load the bundled model, measure, analyse).
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { patchCalibration, patchUi, workbench, type ThemeName } from './store/index.ts';
import { App } from './app/app.tsx';
import { DEFAULT_PRESET_ID, presetById } from './app/presets.ts';
import { startup } from './actions/startup.ts';
import './app/styles.css';

function initialTheme(): { theme: ThemeName; chosen: boolean } {
  try {
    const saved = localStorage.getItem('layerlab-theme');
    if (saved === 'light' || saved === 'dark') return { theme: saved, chosen: true };
  } catch {
    // no storage: follow the system
  }
  const dark = window.matchMedia?.('(prefers-color-scheme: dark)').matches ?? false;
  return { theme: dark ? 'dark' : 'light', chosen: false };
}

const t = initialTheme();
patchUi(workbench, { theme: t.theme, themeChosen: t.chosen });
document.documentElement.dataset.theme = t.theme;
patchCalibration(workbench, { text: presetById(DEFAULT_PRESET_ID)?.text ?? '', presetId: DEFAULT_PRESET_ID });

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
void startup();
