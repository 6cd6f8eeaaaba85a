/**
 * Import rules for src/ (`npm run lint` runs them with ESLint): no cycles; the shared layers (common, config,
 * database) import no feature module; an entity imports no service and not the model router; nothing under src
 * imports test code. A rule that cannot be met yet says so next to it.
 */
/** The feature modules: every folder of src/ but the shared layers. */
const FEATURES = '^src/(?!(common|config|database)/)[^/]+/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles make module load order matter and hide which module owns what.',
      from: { path: '^src/' },
      // Type-only imports vanish at compile time and create no load-order cycle.
      to: { circular: true, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'shared-layers-import-no-feature',
      severity: 'error',
      comment: 'common/, config/ and database/ sit below every feature module and must not depend on one.',
      from: { path: '^src/(common|config|database)/' },
      to: { path: FEATURES },
    },
    {
      name: 'entities-import-no-service-or-router',
      severity: 'error',
      comment: 'An entity describes a table; it must not pull in services or the model router.',
      from: { path: '\\.entity\\.ts$' },
      to: { path: ['\\.service\\.ts$', '^src/providers/model-router\\.ts$'] },
    },
    {
      name: 'src-imports-no-test',
      severity: 'error',
      comment: 'Production code must not depend on test support.',
      from: { path: '^src/' },
      to: { path: '^test/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing fails at run time.',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/metadata\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
