// Lesson 3: mixed precision by importance vs at random (Layer-Wise Quantization, arXiv 2406.17415).
import type { Lesson } from './types.ts';

export const mixedPrecision: Lesson = {
  id: 'mixed',
  title: 'Mixed precision: by importance or at random?',
  summary: 'Give the important layers more bits and the others fewer. Does choosing by importance beat choosing at random for the same size?',
  minutes: 10,
  steps: [
    {
      title: 'Rank the layers',
      body: 'To decide which layers get fewer bits, rank them first. The analysis runs with block influence, LIM and ZD, the metrics Layer-Wise Quantization uses.',
      look: 'In Layer importance, note the least important block by “cos”.',
      panel: 'importance',
      actions: [{ kind: 'preset', id: 'story' }, { kind: 'metrics', metrics: ['cos', 'lim', 'zd', 'agreement'], tokenMetric: 'cos' }, { kind: 'run-importance' }],
    },
    {
      title: 'Fewer bits for the least important 40%',
      body: 'The plan keeps the important blocks at 8 bits (Q8_0) and moves the least important 40% of the blocks to 2-bit integers (int2, groups of 32).',
      look: 'In the Allocation panel, see which blocks got int2 and the size estimate. Then run the comparison in Compare.',
      panel: 'allocation',
      actions: [{ kind: 'plan', order: 'ranked', metric: 'cos', formats: { high: 'Q8_0', low: 'int2-g32-asym', fraction: 0.4 } }],
    },
    {
      title: 'The same size, chosen at random',
      body: 'This plan has exactly the same number of 2-bit blocks, picked at random. Same size, different blocks.',
      look: 'Run the comparison again and compare KL and perplexity with the ranked plan. Which is closer to the original?',
      panel: 'compare',
      actions: [{ kind: 'plan', order: 'random', metric: 'cos', seed: 1, formats: { high: 'Q8_0', low: 'int2-g32-asym', fraction: 0.4 } }],
    },
    {
      title: 'The whole curve',
      body: 'One plan is one point. The sweep moves 0%, 20%, … 100% of the blocks to 2 bits in importance order, in reverse and at random, and draws NLL and KL for each.',
      look: 'In Experiments, does the importance order stay flat longer than reverse and random, as the paper claims (25-50% vs 5-10% of the layers)?',
      panel: 'experiments',
      actions: [{ kind: 'sweep', which: 'format' }],
    },
    {
      title: 'Take it with you',
      body: 'A plan can leave the browser as llama.cpp quantize arguments, a GGUF file, or a link that opens this state.',
      look: 'In Export and share, copy the share link or download the llama.cpp arguments.',
      panel: 'export',
    },
  ],
};
