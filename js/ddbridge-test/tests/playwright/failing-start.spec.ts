// The mock file has a typo: the bridge exits at start-up, and the test fails with its log.
// (Asking for `page` would fail the same way, after starting Chromium for nothing.)
import { test, expect } from '@ddbridge/test/playwright';

test('a bridge that does not start fails the test', async ({ ddbridge }) => {
  expect(ddbridge, 'never reached: the fixture fails first').toBeUndefined();
});
