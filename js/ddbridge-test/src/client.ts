/**
 * A JSON-RPC 2.0 client of the bridge's WebSocket (`/rpc`): the protocol the shim speaks
 * (docs/protocol.md), with a promise per call.
 *
 *     const client = await connect(bridge.wsUrl);
 *     const info = await client.call('host.info');
 *     client.close();
 *
 * It uses the `ws` package: Node 20 has no global WebSocket without a flag.
 */
import WebSocket from 'ws';

/** The daemon answered a call with a JSON-RPC error (`code`, `message`, `data`). */
export class RpcError extends Error {
  override name = 'RpcError';

  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(`${message} (code ${code})`);
  }
}

/** What the daemon sends unasked: `exec.output`, `exec.exit`, `exec.error` of a stream. */
export type NotificationListener = (method: string, params: Record<string, unknown>) => void;

export interface ConnectOptions {
  /** Sent as `Authorization: Bearer`, for a URL without `?token=`. */
  token?: string;
  /** Milliseconds to wait for the handshake (default 10 000). */
  timeout?: number;
}

export interface CallOptions {
  /** Milliseconds to wait for the answer (default 60 000). */
  timeout?: number;
}

interface Pending {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

interface Message {
  id?: number | string | null;
  method?: string;
  params?: Record<string, unknown>;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

export class RpcClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<NotificationListener>();

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => this.receive(String(data)));
    socket.on('close', () => this.failPending(new Error('the connection to the bridge closed')));
  }

  /** Opens the RPC WebSocket `url` (`RunningBridge.wsUrl` carries the token). */
  static connect(url: string, options: ConnectOptions = {}): Promise<RpcClient> {
    const headers: Record<string, string> = options.token ? { Authorization: `Bearer ${options.token}` } : {};
    const socket = new WebSocket(url, { headers, handshakeTimeout: options.timeout ?? 10_000 });
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new RpcClient(socket)));
      // A refused handshake (wrong token, Origin) is an HTTP answer: its status says why.
      socket.once('unexpected-response', (_request, response) => {
        reject(new Error(`the bridge refused the WebSocket ${redacted(url)}: HTTP ${response.statusCode}`));
        socket.terminate();
      });
      // Kept after the handshake too: an error then is followed by 'close', which fails the calls.
      socket.on('error', (error) =>
        reject(new Error(`cannot connect to ${redacted(url)}: ${error.message}`)),
      );
    });
  }

  /** Calls `method` and resolves with its result; a JSON-RPC error rejects with `RpcError`. */
  call<T = unknown>(method: string, params: object = {}, options: CallOptions = {}): Promise<T> {
    const id = this.nextId++;
    const timeout = options.timeout ?? 60_000;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no answer within ${timeout} ms`));
      }, timeout);
      this.pending.set(id, { resolve: resolve as (result: unknown) => void, reject, timer });
      this.socket.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }), (error) => {
        if (error) this.settle(id, (entry) => entry.reject(error));
      });
    });
  }

  /** Calls `listener` with every notification until the returned function is called. */
  onNotification(listener: NotificationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Closes the connection (the daemon then kills the streams it started); calls still waiting reject. */
  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }

  private receive(text: string): void {
    const message: Message | Message[] = JSON.parse(text);
    for (const item of Array.isArray(message) ? message : [message]) {
      if (item.method !== undefined) {
        for (const listener of this.listeners) listener(item.method, item.params ?? {});
      } else if (typeof item.id === 'number') {
        this.settle(item.id, (entry) =>
          item.error
            ? entry.reject(new RpcError(item.error.code, item.error.message, item.error.data))
            : entry.resolve(item.result ?? null),
        );
      }
    }
  }

  private settle(id: number, how: (entry: Pending) => void): void {
    const entry = this.pending.get(id);
    if (entry === undefined) return;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    how(entry);
  }

  private failPending(error: Error): void {
    for (const id of [...this.pending.keys()]) this.settle(id, (entry) => entry.reject(error));
  }
}

/** `RpcClient.connect`. */
export function connect(url: string, options: ConnectOptions = {}): Promise<RpcClient> {
  return RpcClient.connect(url, options);
}

/** `url` without its token, for messages. */
function redacted(url: string): string {
  return url.replace(/([?&]token=)[^&]*/, '$1…');
}
