// The package's own Playwright Test run (tests/browser/test_js_package.py drives it): the sample
// extension's UI through its fixtures, in Debian's Chromium, and a bridge that does not start.
import { defineConfig } from '@playwright/test';
import type { DdbridgeOptions } from '@ddbridge/test/playwright';

export default defineConfig<DdbridgeOptions>({
  testDir: '.',
  testMatch: '*.spec.ts',
  // Traces, screenshots and each worker's ddbridge log: with the suite's other artifacts (git-ignored).
  outputDir: '../../../../test-artifacts/js/playwright',
  workers: 1,
  timeout: 30_000,
  use: {
    launchOptions: {
      executablePath: process.env.DDBRIDGE_BROWSER ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    },
  },
  projects: [
    {
      name: 'sample',
      testMatch: 'sample.spec.ts',
      // ddbridge dev docker/sample-extension --mock sample-mock.json: its UI, answers from the file.
      use: { ddbridge: { extension: '../../../../docker/sample-extension', mock: 'sample-mock.json' } },
    },
    {
      name: 'failing-start',
      testMatch: 'failing-start.spec.ts',
      use: { ddbridge: { mock: 'bad-mock.json' } },
    },
  ],
});
