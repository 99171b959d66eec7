// The package's Node helpers under Vitest (tests/browser/test_js_package.py drives it).
import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Vite's cache (Vitest's results) in the repository's node_modules, not next to the tests.
  cacheDir: resolve(import.meta.dirname, '../../../../node_modules/.vite'),
  test: { root: import.meta.dirname, include: ['*.test.ts'], testTimeout: 30_000, hookTimeout: 60_000 },
});
