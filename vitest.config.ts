import { defineConfig } from 'vitest/config';

// Unit tests (pure, fast) and integration tests against real control planes started by
// test/integration/global-setup.ts (one per integration project). Integration files mostly wait
// (on timers, Leases, the apiserver), so three run at once; the ones that build (the image, the
// executable, npm start) or install cluster-wide objects with fixed names (the chart's
// ClusterRoles) run alone afterwards.
const SERIAL = ['test/integration/image.test.ts', 'test/integration/exe.test.ts', 'test/integration/npm-start.test.ts', 'test/integration/helm-chart*.test.ts'];
const WORKERS = 3;
const integration = {
  globalSetup: ['test/integration/global-setup.ts'],
  testTimeout: 60_000,
  hookTimeout: 120_000,
};

export default defineConfig({
  test: {
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], maxWorkers: WORKERS, sequence: { groupOrder: 0 } } },
      { test: { name: 'integration', include: ['test/integration/**/*.test.ts'], exclude: SERIAL, maxWorkers: WORKERS, sequence: { groupOrder: 0 }, ...integration } },
      { test: { name: 'integration-serial', include: SERIAL, fileParallelism: false, sequence: { groupOrder: 1 }, ...integration } },
    ],
  },
});
