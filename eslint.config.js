// Lint: TypeScript rules plus the import boundaries of DESIGN.md (convention 9):
// navigator.gpu only in src/gpu, onnxruntime-web only in
// src/onnx, d3 only in src/viz, and src/core imports nothing outside src/core.
import tseslint from 'typescript-eslint';

const restrict = (patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bin/**', 'public/**', 'test-results/**', '**/tmp/**', 'scratch*/**', '.*/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['src/**/*.{ts,tsx}'],
    ignores: ['src/onnx/**'],
    rules: restrict([{ group: ['onnxruntime-web', 'onnxruntime-web/*'], message: 'onnxruntime-web is imported only in src/onnx' }]),
  },
  {
    files: ['src/**/*.{ts,tsx}'],
    ignores: ['src/viz/**'],
    rules: restrict([{ group: ['d3', 'd3-*'], message: 'd3 is imported only in src/viz' }]),
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      ...restrict([
        { group: ['**/gpu/**', '**/worker/**', '**/store/**', '**/app/**', '**/viz/**', '**/onnx/**', '**/cli/**', '**/actions/**', 'react', 'react-dom', 'd3', 'zustand', 'comlink', 'onnxruntime-web', 'webgpu', 'node:*'], message: 'src/core imports nothing outside src/core (DESIGN.md)' },
      ]),
      'no-restricted-globals': ['error', { name: 'navigator', message: 'core/ is DOM- and GPU-free' }, { name: 'document', message: 'core/ is DOM-free' }, { name: 'window', message: 'core/ is DOM-free' }],
    },
  },
  {
    files: ['src/**/*.{ts,tsx}'],
    ignores: ['src/gpu/**'],
    rules: {
      'no-restricted-properties': ['error', { object: 'navigator', property: 'gpu', message: 'navigator.gpu is used only in src/gpu' }],
      'no-restricted-syntax': ['error', { selector: "MemberExpression[property.name='gpu'][object.property.name='navigator']", message: 'navigator.gpu is used only in src/gpu' }],
    },
  },
);
