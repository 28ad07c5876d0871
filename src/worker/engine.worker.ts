// The engine worker: owns the GPUDevice and the weights, exposes the Engine over comlink.
import * as Comlink from 'comlink';
import '../gpu/shaders-vite.ts';
import { Engine } from './engine.ts';

const engine = new Engine(async () => (self.navigator as Navigator & { gpu?: GPU }).gpu ?? null);
Comlink.expose(engine);
