// Lesson 1: what layer importance is (block influence / ShortGPT, LIM, z-score distribution, agreement).
import type { Lesson } from './types.ts';

export const whatIsImportance: Lesson = {
  id: 'importance',
  title: 'What is layer importance?',
  summary: 'A transformer is a stack of blocks; some change the text’s representation a lot, some barely. Measure it three ways and see where they agree.',
  minutes: 8,
  steps: [
    {
      title: 'A model is a stack of blocks',
      body: 'Every block reads the running representation of the text (the residual stream), computes an update with attention and an MLP, and adds it back. stories260K has 5 blocks; large models have 30 to 120.',
      look: 'In the Model panel, find “Layers” and “Parameters”. Each layer in the charts below is one of these blocks.',
      panel: 'model',
    },
    {
      title: 'The model reads a text',
      body: 'Importance is measured while the model reads a calibration text. Every coloured piece is one token: the unit the model predicts.',
      look: 'In the Calibration panel, hover the coloured pieces: each one is a token with its id. The story preset is selected for you.',
      panel: 'calibration',
      actions: [{ kind: 'preset', id: 'story' }],
    },
    {
      title: 'How much does each block change the text?',
      body: 'Block influence is 1 minus the cosine similarity between what goes into a block and what comes out (ShortGPT, arXiv 2403.03853). A block that barely turns the vector is a candidate to remove. LIM and the z-score metric (ZD) look at the same change in other ways.',
      look: 'In Layer importance, read the first rows of the metrics × layers heatmap: darker cells are more important layers. Hover a cell (or focus the chart and use the arrow keys) for the exact value and its rank.',
      panel: 'importance',
      actions: [{ kind: 'metrics', metrics: ['cos', 'lim', 'zd', 'agreement'], tokenMetric: 'cos' }, { kind: 'run-importance' }],
    },
    {
      title: 'Do the metrics agree?',
      body: 'Different metrics can rank the layers differently. The rank-agreement table gives Spearman’s rho between every pair: 1 means the same order, 0 no relation, −1 the opposite order.',
      look: 'Scroll to the rank-agreement table under the heatmaps. Which pair agrees most? Is the first block important by every metric?',
      panel: 'importance',
    },
    {
      title: 'Importance depends on the text',
      body: 'The same model reading Python code instead of a story uses its layers differently. The analysis runs again on the code preset.',
      look: 'Compare the heatmap with the one you saw for the story: did the most and least important layers change?',
      panel: 'importance',
      actions: [{ kind: 'preset', id: 'code' }, { kind: 'run-importance' }],
    },
  ],
};
