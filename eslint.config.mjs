// ESLint 9 flat config: typescript-eslint's type-aware recommended rules on every TypeScript file, with
// `no-floating-promises` as an error (a promise nobody awaits loses its error and its ordering). Import rules
// (cycles, which layer may import which) are dependency-cruiser's: .dependency-cruiser.cjs. `npm run lint` runs both.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // src/metadata.ts is generated (scripts/swagger-metadata.js).
  { ignores: ['dist/', 'coverage/', 'node_modules/', 'data/', 'src/metadata.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: globals.node,
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      // An async method that implements a Promise-returning interface (a provider's `complete`, a shutdown hook)
      // needs no await; the rule would have us write Promise.resolve by hand instead.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // `rows.map(Dto.from)`: a static mapper does not use `this`.
      '@typescript-eslint/unbound-method': ['error', { ignoreStatic: true }],
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    // Tests read HTTP bodies that supertest and JSON.parse type as `any` and build hostile or partial inputs:
    // asserting on their shape is the test's job. `expect(obj.method)` passes methods unbound on purpose.
    files: ['test/**/*.ts', '**/*.spec.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // Plain JavaScript runs as is (CommonJS scripts, the PDF worker, the .mjs bench instruments): no type info.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
