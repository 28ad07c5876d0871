// Exporters on hand plans for stories260K: llama-quantize arguments (syntax of llama.cpp's
// tools/quantize/quantize.cpp usage: --tensor-type TENSOR=TYPE, --prune-layers L0,L1,..., then input,
// output, type), PEFT LoraConfig fragment, allocation JSON round trip, CSV of LayerScores.
import { describe, expect, it } from 'vitest';
import { readModelBytes } from '../helpers/models.ts';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import type { LayerScores } from '../../src/core/metrics/types.ts';
import { ALLOCATION_SCHEMA, validateAllocation, type AllocationPlan } from '../../src/core/allocation/schema.ts';
import { allocationJson, llamaQuantizeArgs, peftLoraConfig, scoresCsv } from '../../src/core/allocation/exporters.ts';

const spec = loadModelFromFiles([{ name: 's.gguf', bytes: readModelBytes('stories260K-gguf/stories260K.gguf') }], { contextLength: 512 }).spec;
const head = { schema: ALLOCATION_SCHEMA, model: { name: 'stories260K', arch: 'llama', nLayers: 5 } };

function planOf(json: unknown): AllocationPlan {
  const r = validateAllocation(json, spec);
  if (!r.ok || !r.plan) throw new Error(JSON.stringify(r.ok ? 'no plan' : r.errors));
  return r.plan;
}

describe('llama-quantize arguments', () => {
  it('a hand plan: block 0 at Q8_0, block 2 pruned, block 3 at Q4_0 (renumbered to 2)', () => {
    const plan = planOf({ ...head, layers: { 0: { format: 'Q8_0' }, 2: { drop: 'block' }, 3: { format: 'Q4_0' } } });
    const e = llamaQuantizeArgs(plan, { input: 'stories260K.gguf', output: 'out.gguf' });
    const rule = (b: number, s: string, t: string): string[] => ['--tensor-type', `^blk\\.${b}\\.${s}\\.weight$=${t}`];
    expect(e.args).toEqual([
      ...rule(0, 'attn_q', 'q8_0'), ...rule(0, 'attn_k', 'q8_0'), ...rule(0, 'attn_v', 'q8_0'), ...rule(0, 'attn_output', 'q8_0'),
      ...rule(0, 'ffn_gate', 'q8_0'), ...rule(0, 'ffn_up', 'q8_0'), ...rule(0, 'ffn_down', 'f16'),
      ...rule(2, 'attn_q', 'q4_0'), ...rule(2, 'attn_k', 'q4_0'), ...rule(2, 'attn_v', 'q4_0'), ...rule(2, 'attn_output', 'q4_0'),
      ...rule(2, 'ffn_gate', 'q4_0'), ...rule(2, 'ffn_up', 'q4_0'), ...rule(2, 'ffn_down', 'f16'),
      '--prune-layers', '2',
      'stories260K.gguf', 'out.gguf', 'Q8_0',
    ]);
    expect(e.command.startsWith("llama-quantize --tensor-type '^blk\\.0\\.attn_q\\.weight$=q8_0' --tensor-type")).toBe(true);
    expect(e.command.endsWith(" --tensor-type '^blk\\.2\\.ffn_down\\.weight$=f16' --prune-layers 2 stories260K.gguf out.gguf Q8_0")).toBe(true);
    expect(e.unsupported).toEqual([]);
    // The patterns are regexes searched in tensor names: check they match exactly the intended name.
    const re = new RegExp(e.args[1].split('=')[0]);
    expect(re.test('blk.0.attn_q.weight')).toBe(true);
    expect(re.test('blk.10.attn_q.weight')).toBe(false);
    expect(re.test('blk.0.attn_q.bias')).toBe(false);
  });

  it('lists what llama-quantize cannot express', () => {
    const plan = planOf({
      ...head,
      layers: { 1: { drop: 'attn' }, 0: { kvBits: { k: 8, v: 4 } } },
      tensors: { 'blk.0.attn_q': { format: 'int4-g32-sym' }, 'blk.0.attn_k': { rank: 4 }, 'blk.0.ffn_up': { sparsity: { method: '2:4' } }, token_embd: { format: 'Q4_K' } },
    });
    const e = llamaQuantizeArgs(plan, { baseType: 'q4_0' });
    // token_embd rows hold 64 values: Q4_K falls back to Q5_0.
    expect(e.args).toEqual(['--tensor-type', '^token_embd\\.weight$=q5_0', 'model-f32.gguf', 'model-quant.gguf', 'Q4_0']);
    expect(e.unsupported).toEqual([
      'skip-attn of block 1 (llama-quantize prunes whole blocks only)',
      'KV cache bits of block 0 (K 8, V 4): a runtime setting (llama.cpp --cache-type-k/-v apply to all layers)',
      'blk.0.attn_q: int4-g32-sym (no GGUF type)',
      'blk.0.attn_k: rank 4',
      'blk.0.ffn_up: sparsity 2:4 0.5',
    ]);
  });
});

describe('PEFT LoraConfig fragment', () => {
  it('maps a rank plan onto Hugging Face Llama module names', () => {
    const plan = planOf({ ...head, tensors: { 'blk.0.attn_q': { rank: 8 }, 'blk.0.attn_v': { rank: 8 }, 'blk.3.ffn_down': { rank: 16 } } });
    expect(peftLoraConfig(spec, plan)).toEqual({
      r: 8,
      target_modules: ['down_proj', 'q_proj', 'v_proj'],
      layers_to_transform: [0, 3],
      rank_pattern: { 'model.layers.3.mlp.down_proj': 16 },
    });
    expect(() => peftLoraConfig(spec, planOf(head))).toThrow(/no rank entries/);
  });
});

describe('allocation JSON and scores CSV', () => {
  it('writes layers in block order and reads back to the same plan', () => {
    const a = { ...head, layers: { 10: undefined, 3: { format: 'Q4_0' }, 1: { drop: 'mlp' } } } as unknown as Parameters<typeof allocationJson>[0];
    delete (a.layers as Record<string, unknown>)['10'];
    const text = allocationJson(a);
    expect(text).toBe(`{
  "schema": "layerlab.allocation/1",
  "model": {
    "name": "stories260K",
    "arch": "llama",
    "nLayers": 5
  },
  "layers": {
    "1": {
      "drop": "mlp"
    },
    "3": {
      "format": "Q4_0"
    }
  }
}
`);
    expect(planOf(JSON.parse(text))).toEqual(planOf(a));
  });

  it('long-form CSV with ranks, NaN as empty, sublayers ranked together', () => {
    const s: LayerScores = {
      metricId: 'ablation', label: 'x', unit: 'nats', higherIsMoreImportant: true,
      perBlock: [0.5, NaN, 2], ranking: [2, 0, 1], perSublayer: { attn: [0.1, 0.3, 0.2], mlp: [1, 0.05, 0.4] },
    };
    const t: LayerScores = { metricId: 'cos', label: 'y', unit: 'cos, "unit"', higherIsMoreImportant: false, perBlock: [0.9, 0.7, 0.8], ranking: [1, 2, 0] };
    expect(scoresCsv([s, t])).toBe([
      'metric,unit,higher_is_more_important,block,sublayer,value,rank',
      'ablation,nats,true,0,,0.5,2',
      'ablation,nats,true,1,,,',
      'ablation,nats,true,2,,2,1',
      // attn 0.1 0.3 0.2, mlp 1 0.05 0.4 -> order mlp0 (1), mlp2 (2), attn1 (3), attn2 (4), attn0 (5), mlp1 (6)
      'ablation,nats,true,0,attn,0.1,5',
      'ablation,nats,true,1,attn,0.3,3',
      'ablation,nats,true,2,attn,0.2,4',
      'ablation,nats,true,0,mlp,1,1',
      'ablation,nats,true,1,mlp,0.05,6',
      'ablation,nats,true,2,mlp,0.4,2',
      'cos,"cos, ""unit""",false,0,,0.9,3',
      'cos,"cos, ""unit""",false,1,,0.7,1',
      'cos,"cos, ""unit""",false,2,,0.8,2',
    ].join('\n') + '\n');
  });
});
