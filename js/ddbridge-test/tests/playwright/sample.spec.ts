// The sample extension's UI (docker/sample-extension) through each fixture.
import { test, expect } from '@ddbridge/test/playwright';

test('mock answers for one test come before the file', async ({ page, mock, calls }) => {
  await mock.set({ service: [{ method: 'GET', url: '/hello', body: { message: 'Hello from this test' } }] });
  await page.getByTestId('backend-hello').click();
  await expect(page.getByTestId('backend-result')).toContainText('Hello from this test');
  const call = await calls.waitFor('service.request');
  expect(call.result).toEqual({ message: 'Hello from this test' });
});

test('the next test has the file answers again', async ({ page, calls }) => {
  await expect(page.getByTestId('app-title')).toHaveText('Sample extension');
  await page.getByTestId('backend-hello').click();
  await expect(page.getByTestId('backend-result')).toContainText('Hello from the mock file');
  const call = await calls.waitFor('service.request');
  expect(call.params).toMatchObject({ method: 'GET', url: '/hello' });
  // Only this test's calls: the page's host.info and this request, none of the test before.
  expect((await calls.list('service.request')).map((c) => c.result)).toEqual([
    { message: 'Hello from the mock file' },
  ]);
});

test('a streamed exec, and the bridge itself', async ({ page, calls, ddbridge }) => {
  await page.getByTestId('binary-count').fill('2');
  await page.getByTestId('binary-count-start').click();
  await expect(page.getByTestId('binary-stream-text')).toHaveText('count 1/2\ncount 2/2\n');
  const spawn = await calls.waitFor('exec.spawn');
  expect(spawn.params).toMatchObject({ target: 'host', cmd: 'sample-cli', args: ['count', '2', '0.4'] });

  expect(ddbridge.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  const client = await ddbridge.connect();
  try {
    const info = await client.call<{ platform: string }>('host.info');
    expect(info.platform).toBe(process.platform);
  } finally {
    await client.close();
  }
  expect(ddbridge.log()).toContain('host binaries: sample-cli');
});
