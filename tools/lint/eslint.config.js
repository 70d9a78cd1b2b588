// ESLint for EPU: typescript-eslint's type-checked rules on the project's own code.
// The root eslint.config.js re-exports this file; it lives here because this
// folder has its own install (typescript-eslint needs TypeScript 6; the project builds with 7).
import path from 'node:path';
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const root = path.resolve(import.meta.dirname, '../..');

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'coverage/',
      '.epu/',
      'infra/',
      'public/vendor/',
      'tests/e2e/.artifacts/',
      'tools/lint/node_modules/',
      '**/node_modules/',
    ],
  },
  {
    files: ['**/*.{ts,mts,js,mjs}'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      globals: globals.node,
      parserOptions: { project: path.join(import.meta.dirname, 'tsconfig.json'), tsconfigRootDir: root },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A switch over a union lists every member, unless it has a default: that says "and the rest" on purpose.
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      // Off, and why:
      // - the no-unsafe-* family reports every use of an `any`, and `any` here comes from the boundaries
      //   that are checked by other means: request bodies validated by their TypeBox schemas, rows typed
      //   by Kysely, JSON read back in tests and scripts (which assert its shape). Turned on, it reported
      //   about 2,500 such reads and no bug (docs/decisions/0040-lint-and-typed-jobs.md).
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // - `Kysely<any>` is how the platform's table-agnostic code (queue, migrations, stats) takes a database.
      '@typescript-eslint/no-explicit-any': 'off',
      // - an async function without await is how a method keeps a Promise-returning interface and turns
      //   a throw into a rejection; the floating and misused promise rules catch the real mistakes.
      '@typescript-eslint/require-await': 'off',
      // - services are closures returned by factories (no `this`) whose interfaces use method syntax;
      //   handing `embedded.stop` or `metrics.httpEnded` on is safe, and the rule cannot tell (13 findings, no bug).
      '@typescript-eslint/unbound-method': 'off',
      // A leading underscore marks a binding left unused on purpose (a rest sibling, a skipped element).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // JavaScript: TypeScript infers a literal tuple such as [name, options] as an array of unions, so
    // these two rules read every such name as possibly an object.
    files: ['**/*.{js,mjs}'],
    rules: { '@typescript-eslint/restrict-template-expressions': 'off', '@typescript-eslint/no-base-to-string': 'off' },
  },
  {
    // Modules typed by a declaration file beside them (tools.d.mts, nginx.d.mts): TypeScript reads the
    // declaration, not the module, so the module itself gets the rules that need no types.
    files: ['tests/support/tools.mjs', 'tests/replicas/nginx.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { parserOptions: { project: null } },
  },
  {
    // The browser's enhancement script: plain JavaScript outside the TypeScript program.
    files: ['public/**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: globals.browser, parserOptions: { project: null } },
  },
);
