// Allocations: the versioned JSON plan (schema.ts), its application to the weights on the CPU
// (apply-weights.ts), strategies (strategies.ts), budget solvers (solve.ts; parameter-ratio budgets, D-Rank ranks and OWL sparsity in param-budget.ts) and exporters (exporters.ts).
export * from './schema.ts';
export * from './apply-weights.ts';
export * from './strategies.ts';
export * from './solve.ts';
export * from './param-budget.ts';
export * from './param-strategies.ts';
export * from './owl-nm.ts';
export * from './exporters.ts';
export * from './compare.ts';
