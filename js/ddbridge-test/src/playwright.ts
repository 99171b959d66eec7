/**
 * Playwright Test fixtures for an extension's UI served by ddbridge:
 *
 *     import { test, expect } from '@ddbridge/test/playwright';
 *
 *     test('hello', async ({ page, calls, mock }) => { ... });
 *
 * with the bridge chosen in the config: `use: { ddbridge: { extension: 'my-ext/' } }` (`dev DIR`),
 * `{ image }` (`run IMAGE`) or `{ mock }` (`serve --mock FILE`), as `BridgeOptions` say; relative
 * paths and `cwd` are taken from the config file's folder.
 *
 * - `ddbridge` (worker): the running bridge, one per worker, stopped with the worker; one that
 *   does not start fails the worker's tests with its log.
 * - `page`: signed in (the token URL) and on the extension's UI; `baseURL` is the bridge's, so
 *   `page.goto('/')` is the UI too.
 * - `calls`: the inspector's calls since the test began, `calls.waitFor(method)`.
 * - `mock`: answers for this test (`mock.set({ service: [...] })`), dropped after it.
 */
import {
  test as base,
  type PlaywrightTestArgs,
  type PlaywrightTestOptions,
  type PlaywrightWorkerArgs,
  type PlaywrightWorkerOptions,
  type TestType,
  type WorkerInfo,
} from '@playwright/test';
import { dirname, join, resolve } from 'node:path';
import { startBridge, type BridgeOptions, type RunningBridge } from './bridge';
import { CallLog } from './calls';
import { Mock } from './mock';

export { expect } from '@playwright/test';

/** `use: { ddbridge: ... }`: the `BridgeOptions` but the log file (it goes to the project's output folder). */
export type DdbridgeConfig = Omit<BridgeOptions, 'logFile'>;

/** The config's option, for `defineConfig<DdbridgeOptions>({ use: { ddbridge: {...} } })`. */
export interface DdbridgeOptions {
  ddbridge: DdbridgeConfig;
}

export interface DdbridgeFixtures {
  calls: CallLog;
  mock: Mock;
}

export interface DdbridgeWorkerFixtures {
  ddbridge: RunningBridge;
}

export type DdbridgeTest = TestType<
  PlaywrightTestArgs & PlaywrightTestOptions & DdbridgeFixtures,
  PlaywrightWorkerArgs & PlaywrightWorkerOptions & DdbridgeWorkerFixtures
>;

// The config's `use: { ddbridge }` may only set a fixture registered as an option; the running
// bridge then overrides that option's fixture, reading it as its own previous value (as a
// `page` override reads the `page` before it). Hence two layers, and the cast below: to
// TypeScript one name cannot hold first the options and then the bridge.
const configured = base.extend<object, DdbridgeOptions>({
  ddbridge: [{}, { scope: 'worker', option: true }],
});

async function runBridge(
  options: DdbridgeConfig,
  use: (bridge: RunningBridge) => Promise<void>,
  worker: WorkerInfo,
): Promise<void> {
  const configFile = worker.config.configFile;
  const folder = configFile ? dirname(configFile) : worker.config.rootDir;
  const bridge = await startBridge({
    ...options,
    cwd: resolve(folder, options.cwd ?? '.'),
    logFile: join(worker.project.outputDir, `ddbridge-worker-${worker.workerIndex}.log`),
  });
  try {
    await use(bridge);
  } finally {
    await bridge.stop();
  }
}

type Layer = Parameters<typeof configured.extend<DdbridgeFixtures>>[0];

const fixtures = {
  // No fixture timeout: startBridge has its own (`timeout`), `dev` may build an image first.
  ddbridge: [
    ({ ddbridge }: DdbridgeOptions, use: (bridge: RunningBridge) => Promise<void>, worker: WorkerInfo) =>
      runBridge(ddbridge, use, worker),
    { scope: 'worker', timeout: 0 },
  ],
  baseURL: async ({ ddbridge }: DdbridgeWorkerFixtures, use: (url: string) => Promise<void>) =>
    use(ddbridge.url),
  page: async (
    { page, ddbridge }: PlaywrightTestArgs & DdbridgeWorkerFixtures,
    use: (page: PlaywrightTestArgs['page']) => Promise<void>,
  ) => {
    await page.goto(ddbridge.loginUrl());
    // The login page stores the page credential in the origin's storage and goes on by itself.
    await page.waitForURL((url) => !url.searchParams.has('token'));
    await use(page);
  },
  calls: async ({ ddbridge }: DdbridgeWorkerFixtures, use: (calls: CallLog) => Promise<void>) =>
    use(await CallLog.since(ddbridge)),
  mock: async ({ ddbridge }: DdbridgeWorkerFixtures, use: (mock: Mock) => Promise<void>) => {
    const mock = new Mock(ddbridge);
    await use(mock);
    await mock.clear();
  },
};

export const test = configured.extend<DdbridgeFixtures>(
  fixtures as unknown as Layer,
) as unknown as DdbridgeTest;
