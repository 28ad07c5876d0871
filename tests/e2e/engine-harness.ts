// Test page: puts the real engine worker client on window for Playwright to drive.
import { engineClient } from '../../src/worker/client.ts';

(window as unknown as { engine: ReturnType<typeof engineClient>; ready: boolean }).engine = engineClient();
(window as unknown as { ready: boolean }).ready = true;
