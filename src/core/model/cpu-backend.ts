// The CPU backend: the reference forward behind the Backend contract. Used as the fallback where no
// WebGPU adapter exists and as the oracle the GPU backend is tested against.

import type { LoadedModel } from '../formats/types.ts';
import { greedyId, type Backend, type BackendInfo, type Session, type StepOptions } from './backend.ts';
import { newKvCache, ReferenceModel, type KvCache } from './forward.ts';
import type { ForwardOptions, ForwardResult } from './taps.ts';

export class CpuBackend implements Backend {
  readonly ref: ReferenceModel;
  private peak = 0;

  constructor(readonly model: LoadedModel) {
    this.ref = new ReferenceModel(model);
  }

  get spec() {
    return this.model.spec;
  }

  info(): BackendInfo {
    return { kind: 'cpu', adapter: 'CPU (JavaScript reference)', software: true, weightBytes: this.ref.weights.bytes() };
  }

  private track(cache: KvCache) {
    const kv = cache.k.reduce((a, k) => a + k.byteLength, 0) * 2;
    this.peak = Math.max(this.peak, this.ref.weights.bytes() + kv);
  }

  async forward(ids: number[], opts?: ForwardOptions): Promise<ForwardResult> {
    const cache = newKvCache(this.spec, ids.length);
    const r = this.ref.run(ids, cache, opts);
    this.track(cache);
    return r;
  }

  session(maxTokens = this.spec.contextLength): Session {
    const cache = newKvCache(this.spec, maxTokens);
    const ref = this.ref;
    const track = () => this.track(cache);
    return {
      get position() {
        return cache.position;
      },
      async append(ids: number[], opts?: ForwardOptions) {
        const r = ref.run(ids, cache, opts);
        track();
        return r;
      },
      async step(ids: number[], opts: StepOptions = {}) {
        const r = ref.run(ids, cache, { interventions: opts.interventions, logits: 'last' });
        track();
        return { id: greedyId(r.logits), logits: opts.wantLogits === false ? null : r.logits };
      },
      reset() {
        cache.position = 0;
      },
      dispose() {
        cache.position = 0;
      },
    };
  }

  peakBytes(): number {
    return this.peak;
  }

  dispose(): void {}
}
