// The engine worker: owns the GPUDevice and the weights, exposes the Engine over comlink.
import * as Comlink from 'comlink';
import '../gpu/shaders-vite.ts';
import { browserGpu } from '../gpu/browser-gpu.ts';
import { Engine } from './engine.ts';
import { installErrorTransfer } from './error-transfer.ts';

installErrorTransfer();

Comlink.expose(new Engine(async () => browserGpu()));
