// The layering of docs/architecture.md as rules, checked by the `architecture` step of
// `npm test` (scripts/check-architecture.mjs). Tests may reach anywhere to set up their
// world, so the rules hold for the code that ships: src/ without its *.test.ts files.
const FEATURE = '^src/features/([^/]+)/';

/**
 * Only src/config reads process.env (it is not an import, so scripts/check-architecture.mjs
 * checks it, with this list). Each exception says why.
 */
const PROCESS_ENV_READERS = {
  'src/entrypoints/start.ts': 'epu start hands its own environment on to the processes it starts',
};

module.exports = {
  forbidden: [
    {
      name: 'feature-internals',
      comment:
        'A feature uses another feature only through its service (*.service.ts) or an exported type module (*.types.ts), never its repository, routes, jobs or views.',
      severity: 'error',
      from: { path: FEATURE, pathNot: '\\.test\\.ts$' },
      to: { path: '^src/features/', pathNot: ['^src/features/$1/', '^src/features/[^/]+/[^/]+\\.(service|types)\\.ts$'] },
    },
    {
      name: 'platform-knows-no-feature',
      comment: 'src/platform holds thin adapters: it imports no feature, and nothing above it (app, entrypoints, ui).',
      severity: 'error',
      from: { path: '^src/platform/', pathNot: '\\.test\\.ts$' },
      to: { path: ['^src/features/', '^src/app(\\.ts$|/)', '^src/entrypoints/', '^src/functions/', '^src/ui/'] },
    },
    {
      name: 'no-arrow-back-up',
      comment: 'Features and the ui are built by the composition root; they never import it or an entrypoint.',
      severity: 'error',
      from: { path: ['^src/features/', '^src/ui/', '^src/config/'], pathNot: '\\.test\\.ts$' },
      to: { path: ['^src/app(\\.ts$|/)', '^src/entrypoints/', '^src/functions/'] },
    },
    {
      name: 'only-entrypoints-import-app',
      comment:
        'src/app.ts (its parts in src/app/) is the composition root: only the entrypoints (one per process type or command, and the Cloud Functions entry) build it.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/entrypoints/', '^src/functions/index\\.ts$', '^src/app(\\.ts$|/)', '\\.test\\.ts$'] },
      to: { path: '^src/app(\\.ts$|/)' },
    },
    {
      name: 'config-is-a-leaf',
      comment: 'src/config parses the environment and depends on nothing else of ours.',
      severity: 'error',
      from: { path: '^src/config/', pathNot: '\\.test\\.ts$' },
      to: { path: '^src/', pathNot: '^src/config/' },
    },
  ],
  options: {
    includeOnly: '^src/',
    exclude: { path: '\\.test\\.ts$' },
    tsConfig: { fileName: 'tsconfig.json' },
    // TypeScript 7 has no JavaScript API for dependency-cruiser to parse with; swc parses TypeScript.
    parser: 'swc',
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      extensions: ['.ts', '.js'],
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};
// Not a dependency-cruiser option (it refuses unknown keys): hidden from its validation, read by the script.
Object.defineProperty(module.exports, 'processEnvReaders', { value: PROCESS_ENV_READERS, enumerable: false });
