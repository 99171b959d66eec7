// startBridge and the JSON-RPC client against `ddbridge serve --mock mock.json`.
import { afterAll, beforeAll, expect, test } from 'vitest';
import {
  BridgeStartError,
  Mock,
  RpcError,
  startBridge,
  type RpcClient,
  type RunningBridge,
} from '@ddbridge/test';

const here = import.meta.dirname;
let bridge: RunningBridge;
let client: RpcClient;

beforeAll(async () => {
  bridge = await startBridge({ mock: 'mock.json', cwd: here });
  client = await bridge.connect();
});

afterAll(async () => {
  await client?.close();
  const pid = bridge?.process.pid;
  expect(await bridge?.stop()).toBe(0);
  expect(() => process.kill(pid!, 0)).toThrow(); // gone
});

test('a call resolves with its result, an error rejects with RpcError', async () => {
  expect(await client.call('service.request', { method: 'GET', url: '/hello' })).toEqual({
    message: 'Hello from the mock file',
  });
  const failure = client.call('service.request', { method: 'GET', url: '/helo' });
  await expect(failure).rejects.toBeInstanceOf(RpcError);
  await expect(failure).rejects.toMatchObject({ code: -32009, data: { call: 'GET /helo' } });
  await expect(failure).rejects.toThrow('no mock answer for GET /helo; closest: GET /hello');
});

test('a stream sends its output and exit as notifications', async () => {
  const received: [string, Record<string, unknown>][] = [];
  const exited = new Promise<void>((resolve) => {
    const stop = client.onNotification((method, params) => {
      received.push([method, params]);
      if (method === 'exec.exit') {
        stop();
        resolve();
      }
    });
  });
  const { stream } = await client.call<{ stream: string }>('exec.spawn', {
    target: 'host',
    cmd: 'tool',
    args: ['count'],
  });
  await exited;
  expect(received).toEqual([
    ['exec.output', { stream, stdout: '1\n' }],
    ['exec.output', { stream, stderr: '2\n' }],
    ['exec.exit', { stream, code: 3, signal: null }],
  ]);
});

test('the calls are in the inspector, and mock answers can be set for a while', async () => {
  const mock = new Mock(bridge);
  await mock.set({ service: [{ method: 'GET', url: '/hello', status: 503, body: 'down' }] });
  await expect(client.call('service.request', { method: 'GET', url: '/hello' })).rejects.toMatchObject({
    code: -32001,
    data: { statusCode: 503, message: 'down' },
  });
  await mock.clear();
  await client.call('service.request', { method: 'GET', url: '/hello' });
  const calls = await bridge.calls('service.request');
  expect(calls.at(-1)).toMatchObject({ answered: true, result: { message: 'Hello from the mock file' } });
  expect(calls.at(-2)?.error).toMatchObject({ code: -32001 });
});

test('a ddbridge that cannot be run is named', async () => {
  // (A daemon that exits at start-up, with its log: tests/playwright/failing-start.spec.ts.)
  const start = startBridge({ mock: 'mock.json', executable: '/nonexistent/ddbridge' });
  await expect(start).rejects.toBeInstanceOf(BridgeStartError);
  await expect(start).rejects.toThrow(
    'cannot run /nonexistent/ddbridge: not found; put ddbridge on PATH or set DDBRIDGE',
  );
});
