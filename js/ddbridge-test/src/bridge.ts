/**
 * Starting a real `ddbridge` daemon for tests, and reading what it did: the Node side of
 * bridge/testing/launcher.py.
 *
 *     const bridge = await startBridge({ mock: 'mock.json' });   // ddbridge serve --mock mock.json
 *     const client = await bridge.connect();                      // the JSON-RPC client
 *     await bridge.stop();
 *
 * The daemon listens on a free port (`--port 0`); its ready line on stdout says where, with the
 * token. Its log (stderr) goes to a file, which a start that fails quotes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, closeSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { callsIn, type Call, type InspectorEvent } from './calls';
import { RpcClient } from './client';

const READY_PREFIX = 'ddbridge listening on ';

/** What to serve, as the pytest plugin's options: `extension`, `image` and `mock` choose the command. */
export interface BridgeOptions {
  /** `ddbridge dev DIR`: the extension's source folder (metadata.json at its root). */
  extension?: string;
  /** `ddbridge run IMAGE`; with `extension`, `dev DIR --image IMAGE`. */
  image?: string;
  /** `--mock FILE`: answers from the file, no backend; alone, `ddbridge serve --mock FILE`. */
  mock?: string;
  /** More arguments to that command, e.g. `['--backend-cmd', 'exec python3 backend/main.py …']`. */
  args?: string[];
  /** The ddbridge executable: default `$DDBRIDGE`, else `ddbridge` on PATH. */
  executable?: string;
  /** Added to the daemon's environment. */
  env?: Record<string, string>;
  /** Where the daemon runs, and so what relative paths are relative to (default: the current folder). */
  cwd?: string;
  /** Milliseconds to wait for the ready line (default 120 000: `dev` may build an image first). */
  timeout?: number;
  /** The log file (the daemon's stderr); default one in a new temporary folder. */
  logFile?: string;
}

/**
 * The daemon did not start: it exited, could not be run, or printed no ready line in time. The
 * message quotes its log.
 */
export class BridgeStartError extends Error {
  override name = 'BridgeStartError';
}

/** `[command, ...arguments]` after `ddbridge`, from the options (the pytest plugin's mapping). */
export function bridgeCommand(options: BridgeOptions): string[] {
  let command: string[];
  if (options.extension !== undefined) {
    command = ['dev', options.extension, ...(options.image !== undefined ? ['--image', options.image] : [])];
  } else if (options.image !== undefined) {
    command = ['run', options.image];
  } else if (options.mock !== undefined) {
    command = ['serve'];
  } else {
    throw new BridgeStartError(
      'ddbridge: nothing to serve; set extension (ddbridge dev DIR), image (ddbridge run IMAGE) or mock ' +
        '(ddbridge serve --mock FILE); in a Playwright config: use: { ddbridge: { extension: DIR } }',
    );
  }
  return [
    ...command,
    ...(options.mock !== undefined ? ['--mock', options.mock] : []),
    ...(options.args ?? []),
  ];
}

/** A daemon `startBridge` started: where it listens, its token, its log, and ways in. */
export class RunningBridge {
  /** Its process (the leader of its own process group). */
  readonly process: ChildProcess;
  /** `http://127.0.0.1:PORT/`, without the token. */
  readonly url: string;
  /** Empty when it runs without one (`--token ''`). */
  readonly token: string;
  readonly logFile: string;
  private readonly exited: Promise<number | null>;
  // SIGTERM, not SIGKILL: the daemon outlives the runner long enough to stop its backend.
  private readonly stopOnExit = (): void => void this.process.kill('SIGTERM');

  constructor(process: ChildProcess, readyUrl: string, logFile: string, exited: Promise<number | null>) {
    const ready = new URL(readyUrl);
    this.token = ready.searchParams.get('token') ?? '';
    ready.search = '';
    this.url = ready.href;
    this.process = process;
    this.logFile = logFile;
    this.exited = exited;
    // A test runner that exits without stopping it (a forgotten stop, a crash) takes it along.
    globalThis.process.once('exit', this.stopOnExit);
  }

  /** What an HTTP client sends to be let in: `Authorization: Bearer TOKEN`. */
  get headers(): Record<string, string> {
    return this.token ? { Authorization: `Bearer ${this.token}` } : {};
  }

  /** The RPC WebSocket URL with the token. */
  get wsUrl(): string {
    return this.url.replace(/^http/, 'ws') + 'rpc' + this.query('?');
  }

  /** `path` (relative to `url`) with the token: what a browser opens first (it signs in, goes on to `path`). */
  loginUrl(path = ''): string {
    return this.url + path + this.query(path.includes('?') ? '&' : '?');
  }

  /** A JSON-RPC client on its own connection. */
  connect(): Promise<RpcClient> {
    return RpcClient.connect(this.wsUrl);
  }

  /** The daemon's log so far. */
  log(): string {
    return readFileSync(this.logFile, 'utf8');
  }

  /** The inspector's event history (`GET /_ddbridge/events.json`). */
  async events(): Promise<InspectorEvent[]> {
    const answer = await fetch(this.url + '_ddbridge/events.json', { headers: this.headers });
    if (!answer.ok)
      throw new Error(`GET /_ddbridge/events.json: HTTP ${answer.status} ${await answer.text()}`);
    return ((await answer.json()) as { events: InspectorEvent[] }).events;
  }

  /** The calls in the history past `seq` `after` (of `method` only, when given), each with its answer. */
  async calls(method?: string, after = 0): Promise<Call[]> {
    return callsIn(await this.events(), method, after);
  }

  /**
   * SIGTERM, and its exit code once it has stopped what it started (backend, containers); after
   * `timeout` ms, SIGKILL. Then whatever is left of its process group gets SIGKILL. Stopping twice is fine.
   */
  async stop(timeout = 30_000): Promise<number | null> {
    globalThis.process.off('exit', this.stopOnExit);
    if (this.process.exitCode === null && this.process.signalCode === null) {
      this.process.kill('SIGTERM');
      const timer = setTimeout(() => this.process.kill('SIGKILL'), timeout);
      await this.exited;
      clearTimeout(timer);
    }
    killGroup(this.process);
    return this.process.exitCode;
  }

  private query(separator: string): string {
    return this.token ? `${separator}token=${encodeURIComponent(this.token)}` : '';
  }
}

/** SIGKILL to what is left of the process group `child` leads. */
function killGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    // ESRCH: nothing is left of the group.
  }
}

/** `ddbridge COMMAND --port 0 ARGS` (`bridgeCommand(options)`), resolved once its ready line is out. */
export async function startBridge(options: BridgeOptions): Promise<RunningBridge> {
  const [command, ...args] = bridgeCommand(options);
  const executable = options.executable ?? process.env.DDBRIDGE ?? 'ddbridge';
  const logFile = options.logFile ?? join(mkdtempSync(join(tmpdir(), 'ddbridge-log-')), 'bridge.log');
  mkdirSync(dirname(logFile), { recursive: true });
  const log = openSync(logFile, 'w');
  const child = spawn(executable, [command!, '--port', '0', ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', log],
    // Its own process group, so that stop() reaches whatever it leaves behind.
    detached: true,
  });
  closeSync(log);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const commandLine = ['ddbridge', command, ...args].join(' ');
  const timeout = options.timeout ?? 120_000;
  const failure = (why: string): BridgeStartError =>
    new BridgeStartError(`${commandLine}: ${why}; its log (${logFile}):\n${readFileSync(logFile, 'utf8')}`);

  const readyUrl = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => {
      done();
      killGroup(child);
      reject(failure(`no ready line within ${timeout} ms`));
    }, timeout);
    const done = (): void => {
      clearTimeout(timer);
      child.off('exit', onExit);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      done();
      killGroup(child); // what it had started before it died
      reject(failure(`it exited (${signal ?? `code ${code}`}) before it was ready`));
    };
    child.once('exit', onExit);
    child.once('error', (error: NodeJS.ErrnoException) => {
      done();
      reject(
        new BridgeStartError(
          error.code === 'ENOENT'
            ? `cannot run ${executable}: not found; put ddbridge on PATH or set DDBRIDGE to its path`
            : `cannot run ${executable}: ${error.message}`,
        ),
      );
    });
    // Lines after the ready one are read too (and dropped), so that stdout never fills up.
    lines.on('line', (line) => {
      if (line.startsWith(READY_PREFIX)) {
        done();
        resolve(line.slice(READY_PREFIX.length).trim());
      }
    });
  });
  return new RunningBridge(child, readyUrl, logFile, exited);
}
