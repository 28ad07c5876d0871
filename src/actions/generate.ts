// Text generation with streamed tokens (the worker calls onToken through a comlink proxy) and a
// cooperative cancel (engine.cancel()).

import { appendGenerated, patchGeneration, workbench } from '../store/index.ts';
import { callbackProxy, engine, isCancelled, runJob, toUserError } from './engine.ts';

export function generate(): Promise<void> {
  const g = workbench.getState().generation;
  const req = {
    prompt: g.prompt,
    maxTokens: g.maxTokens,
    temperature: g.temperature,
    topK: g.topK,
    topP: g.topP,
    seed: g.seed,
    stopAtEos: true,
  };
  return runJob('generate', 'generate', async () => {
    const serial = workbench.getState().model.serial;
    patchGeneration(workbench, {
      running: true, ids: [], pieces: [], text: null, startedAt: performance.now(), tokensPerSecond: null,
      prefillTokensPerSecond: null, cancelled: false, error: null, modelSerial: serial,
    });
    // Streamed tokens come through the proxy's own message channel, so a few may arrive after the
    // result: once the result is in, it is the whole truth and late tokens are dropped.
    let finished = false;
    const onToken = callbackProxy((id: number, piece: string) => {
      if (!finished) appendGenerated(workbench, id, piece, performance.now());
    });
    try {
      const r = await engine().generate(req, undefined, onToken);
      finished = true;
      patchGeneration(workbench, {
        running: false,
        ids: r.generatedIds,
        pieces: r.pieces,
        text: r.text,
        tokensPerSecond: Number.isFinite(r.decodeTokensPerSecond) ? r.decodeTokensPerSecond : workbench.getState().generation.tokensPerSecond,
        prefillTokensPerSecond: Number.isFinite(r.prefillTokensPerSecond) ? r.prefillTokensPerSecond : null,
      });
    } catch (e) {
      finished = true;
      if (isCancelled(e)) patchGeneration(workbench, { running: false, cancelled: true });
      else patchGeneration(workbench, { running: false, error: toUserError(e, 'generating') });
    }
  });
}
