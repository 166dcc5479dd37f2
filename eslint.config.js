// ESLint for the TypeScript of src, test, bench, scripts and deploy, with type information from
// tsconfig.check.json, and the dashboards' JavaScript in static/ (browser globals; its types are checked by
// tsconfig.static.json). `npm run lint`; `npm test` runs it first.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', 'data/', 'bench/results/', 'test/browser/artifacts/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { project: './tsconfig.check.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // node:test's describe/it/test return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] }] }],
      // `_name` is a value left out on purpose (`const { level: _level, ...fields } = message`).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true, caughtErrors: 'none' }],
      // Fastify hooks and handlers are async by contract (an async handler's return value is the reply), and
      // interface methods that return promises are async in implementations that need no await.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Tests, benchmarks and scripts read JSON from the wire and from files, and look into it field by field;
    // they take helpers' functions out of the objects that return them (`const { send } = await startNode()`).
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', 'deploy/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  { files: ['**/*.js'], extends: [tseslint.configs.disableTypeChecked] },
  { files: ['static/**/*.js'], languageOptions: { globals: globals.browser, sourceType: 'module' } },
);
