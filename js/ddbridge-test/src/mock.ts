/**
 * Answers for one test, in mock mode (`--mock FILE`): the daemon's `mock.set` (docs/mock.md)
 * puts them before the file's until the next one, and `{}` drops them.
 */
import type { RunningBridge } from './bridge';
import { RpcClient, RpcError } from './client';

/** A `service.request` answer: matched by method and URL (and `data` when given). */
export interface ServiceAnswer {
  method: string;
  url: string;
  data?: unknown;
  /** Default 200; anything but a 2xx rejects with a ServiceError. */
  status?: number;
  reason?: string;
  body?: unknown;
}

/** An `exec.run` / `exec.spawn` answer: matched by target, command and arguments. */
export interface ExecAnswer {
  target: 'host' | 'vm' | 'docker' | `container:${string}`;
  cmd: string;
  args?: string[];
  stdout?: string;
  stderr?: string;
  code?: number;
  signal?: string | null;
  /** A streamed exec's output; `delay` is the seconds after the chunk before. */
  chunks?: ({ stdout: string; delay?: number } | { stderr: string; delay?: number })[];
}

/** What `showOpenDialog` resolves with. */
export interface DialogAnswer {
  canceled?: boolean;
  filePaths?: string[];
  [field: string]: unknown;
}

/** A mock file's content (docs/mock.md). */
export interface MockAnswers {
  service?: ServiceAnswer[];
  exec?: ExecAnswer[];
  docker?: { listContainers?: unknown[]; listImages?: unknown[] };
  dialog?: DialogAnswer[];
}

const NOT_MOCKED =
  'the mock fixture needs a bridge in mock mode: use: { ddbridge: { mock: FILE } } (with an extension or not)';

/** The answers of one test; `clear()` drops them (the Playwright fixture does at the test's end). */
export class Mock {
  private client: RpcClient | undefined;

  constructor(private readonly bridge: RunningBridge) {}

  /** Replaces this test's answers: they come before the mock file's. */
  async set(answers: MockAnswers): Promise<void> {
    this.client ??= await this.bridge.connect();
    try {
      await this.client.call('mock.set', answers);
    } catch (error) {
      if (error instanceof RpcError && error.code === -32601) throw new Error(NOT_MOCKED);
      throw error;
    }
  }

  /** Drops the answers set (nothing to do when none was), and closes the connection. */
  async clear(): Promise<void> {
    if (this.client === undefined) return;
    await this.client.call('mock.set', {});
    await this.client.close();
    this.client = undefined;
  }
}
