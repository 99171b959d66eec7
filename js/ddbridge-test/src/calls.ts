/** The calls pages and clients made, read from the inspector's event history. */
import type { RunningBridge } from './bridge';

/** One RPC call with its answer once `answered`: `result`, or `error` (the JSON-RPC error object). */
export interface Call {
  /** Orders calls across the bridge's whole run. */
  seq: number;
  method: string;
  params: unknown;
  answered: boolean;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

/** An event of `GET /_ddbridge/events.json` (docs/protocol.md, "Inspector events"). */
export interface InspectorEvent {
  seq: number;
  kind: string;
  time: number;
  [field: string]: unknown;
}

/** The calls in `events` past `after` (of `method` only, when given), each with its answer. */
export function callsIn(events: InspectorEvent[], method?: string, after = 0): Call[] {
  const answers = new Map<unknown, InspectorEvent>();
  for (const event of events) if (event.kind === 'result') answers.set(event.call, event);
  const calls: Call[] = [];
  for (const event of events) {
    if (event.kind !== 'call' || event.seq <= after) continue;
    if (method !== undefined && event.method !== method) continue;
    const answer = answers.get(event.seq);
    const call: Call = {
      seq: event.seq,
      method: String(event.method),
      params: event.params,
      answered: !!answer,
    };
    if (answer?.result !== undefined) call.result = answer.result;
    if (answer?.error !== undefined) call.error = answer.error as NonNullable<Call['error']>;
    calls.push(call);
  }
  return calls;
}

export interface WaitOptions {
  /** Milliseconds (default 10 000). */
  timeout?: number;
}

/**
 * The calls made since it was created (in a test: since the test began). The test fixtures' own
 * calls (`mock.*`, the answers a test sets) are left out: they are not the page's.
 */
export class CallLog {
  private constructor(
    private readonly bridge: RunningBridge,
    private readonly after: number,
  ) {}

  /** From now on: the history's last `seq` is where it starts. */
  static async since(bridge: RunningBridge): Promise<CallLog> {
    const events = await bridge.events();
    return new CallLog(
      bridge,
      events.reduce((last, event) => Math.max(last, event.seq ?? 0), 0),
    );
  }

  /** The calls so far, of `method` only when given. */
  async list(method?: string): Promise<Call[]> {
    const calls = callsIn(await this.bridge.events(), method, this.after);
    return calls.filter((call) => !call.method.startsWith('mock.'));
  }

  /** The first answered call of `method`, waiting for a page that has yet to make it. */
  async waitFor(method: string, options: WaitOptions = {}): Promise<Call> {
    const timeout = options.timeout ?? 10_000;
    const deadline = Date.now() + timeout;
    for (;;) {
      const calls = await this.list();
      const answered = calls.find((call) => call.method === method && call.answered);
      if (answered) return answered;
      if (Date.now() > deadline) {
        const seen = calls.map((call) => call.method).join(', ') || 'none';
        throw new Error(`no answered ${method} call within ${timeout} ms (calls seen: ${seen})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
