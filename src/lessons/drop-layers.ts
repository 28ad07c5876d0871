// Lesson 2: drop layers and see what breaks (ablation, ranked vs reverse drops, LLM-Drop sublayers).
import type { Lesson } from './types.ts';

export const dropLayers: Lesson = {
  id: 'drop',
  title: 'Drop layers and see what breaks',
  summary: 'Remove the least important block, then the most important one, and compare the text, perplexity and KL with the original. Then drop attention and MLP sublayers one by one.',
  minutes: 10,
  steps: [
    {
      title: 'Find the least important block',
      body: 'Ablation measures importance directly: skip one block and see how far the predictions move (KL from the original) and how much the loss rises. Block influence (cos) predicts the same thing from a single pass.',
      look: 'In Layer importance, compare the “ablation” row with the block-influence row: do they point at the same block?',
      panel: 'importance',
      actions: [{ kind: 'preset', id: 'story' }, { kind: 'metrics', metrics: ['cos', 'ablation', 'agreement'], tokenMetric: 'cos' }, { kind: 'run-importance' }],
    },
    {
      title: 'Drop it',
      body: 'The plan now drops the block that block influence ranks last. Nothing is recomputed yet: a plan is a list of changes to apply.',
      look: 'In the Allocation panel, find the dropped block in the plan grid. Then open the Compare panel and run the comparison.',
      panel: 'allocation',
      actions: [{ kind: 'plan', order: 'ranked', metric: 'cos', drop: { what: 'block', n: 1 } }],
    },
    {
      title: 'What changed?',
      body: 'KL measures how far the next-token predictions moved (0 = identical); top-1 agreement is how often both models pick the same next token; the generated texts show where they first diverge.',
      look: 'In Compare, read perplexity, KL and top-1, and find the divergence mark in the side-by-side text.',
      panel: 'compare',
    },
    {
      title: 'Now drop the most important block',
      body: 'The reverse plan drops the block ranked first. If the metric is right, this should hurt much more.',
      look: 'Run the comparison again and compare the two runs: how much higher are perplexity and KL?',
      panel: 'compare',
      actions: [{ kind: 'plan', order: 'reverse', metric: 'cos', drop: { what: 'block', n: 1 } }],
    },
    {
      title: 'Attention or MLP?',
      body: 'LLM-Drop (arXiv 2406.15786) found attention sublayers far more redundant than MLPs. The drop sweep removes 1, 2, … blocks, attention sublayers or MLP sublayers in importance order.',
      look: 'In Experiments, compare the three NLL curves: which one stays flat longest? Does it match the paper’s claim written beside it?',
      panel: 'experiments',
      actions: [{ kind: 'sweep', which: 'drop' }],
    },
  ],
};
