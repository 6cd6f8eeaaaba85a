/**
 * Two projects: `unit` (src/**\/*.spec.ts, pure logic) and `e2e` (test/**\/*.e2e-spec.ts, the whole app over HTTP
 * against a real PostgreSQL). The swagger CLI plugin runs in ts-jest too, so /docs-json matches the build.
 */
const transform = {
  '^.+\\.ts$': [
    'ts-jest',
    { tsconfig: 'tsconfig.json', astTransformers: { before: ['<rootDir>/test/support/swagger-transformer.js'] } },
  ],
};

/** @type {import('jest').Config} */
module.exports = {
  maxWorkers: 2,
  // e2e suites boot the app (and sometimes the embedded database); a project-level testTimeout is ignored.
  testTimeout: 30000,
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      moduleFileExtensions: ['js', 'json', 'ts'],
      roots: ['<rootDir>/src', '<rootDir>/test'],
      testMatch: ['**/*.spec.ts'],
      transform,
    },
    {
      displayName: 'e2e',
      testEnvironment: 'node',
      moduleFileExtensions: ['js', 'json', 'ts'],
      roots: ['<rootDir>/test'],
      testMatch: ['**/*.e2e-spec.ts'],
      transform,
      globalSetup: '<rootDir>/test/support/global-setup.ts',
    },
  ],
};
