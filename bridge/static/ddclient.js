// ddbridge browser shim: defines window.ddClient (the Docker Desktop extension client API,
// v0 and v1) on top of one JSON-RPC 2.0 WebSocket to the ddbridge daemon (docs/protocol.md),
// plus the MUI theme globals that @docker/docker-mui-theme reads.
//
// It must run synchronously before any extension bundle: the daemon injects
// <script src="/ddclient.js"> as the first element of <head> and prepends one line,
// `window.__ddbridge = {...};`, to this file. The WebSocket opens on the first call.
//
// tests/typecheck checks this file with tsc (checkJs); the JSDoc types below are that contract.
(function () {
  "use strict";

  /**
   * @typedef {import("@docker/extension-api-client-types/dist/v1Hybrid").DockerDesktopClient} DockerDesktopClient
   * @typedef {import("@docker/extension-api-client-types/dist/v1Hybrid").BackendV0} BackendV0
   * @typedef {import("@docker/extension-api-client-types/dist/v1Hybrid").ExtensionVM} ExtensionVM
   * @typedef {import("@docker/extension-api-client-types/dist/v1Hybrid").ExtensionHost} ExtensionHost
   * @typedef {import("@docker/extension-api-client-types/dist/v1Hybrid").HttpService} HttpService
   * @typedef {import("@docker/extension-api-client-types/dist/v1Hybrid").Exec} Exec
   * @typedef {import("@docker/extension-api-client-types/dist/v1Hybrid").ExecOptions} ExecOptions
   * @typedef {import("@docker/extension-api-client-types/dist/v1Hybrid").SpawnOptions} SpawnOptions
   * @typedef {import("@docker/extension-api-client-types/dist/v1Hybrid").ExecStreamOptions} ExecStreamOptions
   * @typedef {import("@docker/extension-api-client-types/dist/v1Hybrid").ExecProcess} ExecProcess
   * @typedef {import("@mui/material").ThemeOptions} ThemeOptions
   * @typedef {import("@mui/material").Color} Color
   */

  /**
   * The object installed as window.ddClient: Docker's v1Hybrid client with every optional part
   * present (backend, extension.vm.service, extension.host), plus extension.id.
   * @typedef {DockerDesktopClient & {
   *   readonly backend: BackendV0,
   *   readonly extension: {
   *     readonly id: string,
   *     readonly vm: ExtensionVM & {readonly service: HttpService},
   *     readonly host: ExtensionHost,
   *   },
   * }} BridgeClient
   */

  /**
   * @typedef {object} BridgeConfig
   * @property {string} rpcPath path of the daemon's JSON-RPC WebSocket on this origin
   * @property {{platform: string, arch: string, hostname: string}} host
   * @property {{id: string, image: string}} extension
   * @property {string[]} shells the extensions host's shell origins, which frame this page
   */

  /**
   * What the daemon's exec.run answers (protocol.md).
   * @typedef {object} RawExecResult
   * @property {string} [cmd]
   * @property {number | null} [code]
   * @property {string | null} [signal]
   * @property {boolean} [killed]
   * @property {string} stdout
   * @property {string} stderr
   */

  /** @typedef {{code: number, message: string, data?: any}} RpcErrorObject */
  /** @typedef {"stdout" | "stderr"} OutputKind */

  /**
   * Where a stream's events go, whatever API generation started it.
   * @typedef {object} StreamSink
   * @property {(kind: OutputKind, text: string) => void} output
   * @property {(code: number) => void} close
   * @property {(error: unknown) => void} error
   */

  const SERVICE_ERROR_CODE = -32001;
  const UNAUTHENTICATED_CLOSE_CODE = 4401;
  // The page credential (bridge/auth.py): in the bridge origin's localStorage, put there by the
  // page the printed URL opens, sent only explicitly, as a WebSocket subprotocol.
  const CREDENTIAL_KEY = "ddbridge.credential";
  const RPC_SUBPROTOCOL = "ddbridge";
  const CREDENTIAL_SUBPROTOCOL = "ddbridge.credential.";
  const HANDOFF_PATH = "/_ddbridge/credential";
  const HANDOFF_TIMEOUT_MS = 10000;
  const RECONNECT_FIRST_DELAY_MS = 250;
  const RECONNECT_MAX_DELAY_MS = 5000;
  const TOAST_DURATION_MS = 5000;
  // A stream's output read as an HTTP answer (bridge/stream_answer.py), which Chromium delivers
  // several times as fast as WebSocket messages. Each holds one of the 6 connections a browser
  // opens to a host, so at most this many at once; further streams come on the socket.
  const ANSWER_STREAMS_MAX = 2;
  // The reader of an answer lets the page run other tasks (timers, input) this often.
  const ANSWER_YIELD_MS = 8;
  const ANSWER_READ_BYTES = 1 << 20;
  const ANSWER_END_RECORD = 0;
  /** @type {Record<number, OutputKind>} */
  const ANSWER_OUTPUT_RECORDS = { 1: "stdout", 2: "stderr" };

  // ---------------------------------------------------------------------------------------
  // Configuration

  /**
   * Reads the bootstrap object the daemon prepends; every field falls back to a default.
   * @param {any} raw window.__ddbridge
   * @returns {BridgeConfig}
   */
  function readConfig(raw) {
    const source = raw && typeof raw === "object" ? raw : {};
    const host = source.host || {};
    const extension = source.extension || {};
    return {
      rpcPath: typeof source.rpcPath === "string" && source.rpcPath ? source.rpcPath : "/rpc",
      host: { platform: text(host.platform), arch: text(host.arch), hostname: text(host.hostname) },
      extension: { id: text(extension.id), image: text(extension.image) },
      shells: Array.isArray(source.shells) ? source.shells.filter((/** @type {unknown} */ shell) => typeof shell === "string") : [],
    };
  }

  /**
   * @param {unknown} value
   * @returns {string}
   */
  function text(value) {
    return typeof value === "string" ? value : "";
  }

  /**
   * The daemon's WebSocket: on the origin this script came from (the page's own, or the bridge
   * when an allowed page on another origin loads it).
   * @param {string} path
   * @param {string | undefined} scriptSrc the URL this script was loaded from
   * @returns {string}
   */
  function rpcUrl(path, scriptSrc) {
    const base = new URL(scriptSrc || location.href);
    const url = new URL(path, base);
    url.protocol = base.protocol === "https:" ? "wss:" : "ws:";
    return url.href;
  }

  /**
   * The subprotocols a bridge WebSocket offers: its own, and the credential when there is one.
   * @param {string} credential
   * @returns {string[]}
   */
  function subprotocols(credential) {
    return credential ? [RPC_SUBPROTOCOL, CREDENTIAL_SUBPROTOCOL + credential] : [RPC_SUBPROTOCOL];
  }

  /** @returns {string} the page credential in this origin's storage ("" when there is none) */
  function storedCredential() {
    try {
      return globalThis.localStorage?.getItem(CREDENTIAL_KEY) || "";
    } catch {
      return ""; // storage disabled: the daemon says what is missing
    }
  }

  /**
   * Where the page credential comes from. On the bridge's own origin, its storage, at once. A
   * page of another allowed origin (a dev server's) cannot read that storage: the bridge's
   * hand-off page, framed out of sight, reads it and posts it to this page's origin alone.
   * @param {string | undefined} scriptSrc
   * @param {string[]} shells the host's shell origins (none outside the extensions host)
   * @returns {() => string | Promise<string>}
   */
  function credentialSource(scriptSrc, shells) {
    const bridgeOrigin = new URL(scriptSrc || location.href).origin;
    /** @type {Promise<string> | null} */
    let asked = null;
    /** @param {() => Promise<string>} ask */
    const once = (ask) => () => {
      asked = asked || ask().finally(() => { asked = null; });
      return asked;
    };
    if (bridgeOrigin !== new URL(location.href).origin) return once(() => askBridge(bridgeOrigin));
    if (!shells.length || window.parent === window) return storedCredential;
    // An installed extension's page in the host's shell: a third-party frame there, which the
    // browser may deny storage; its parent, the shell, hands it a credential for this origin.
    return () => storedCredential() || once(() => askShell(shells))();
  }

  /**
   * The credential the host's shell (this frame's parent) gives this extension's page.
   * @param {string[]} shells the origins the shell may have
   * @returns {Promise<string>}
   */
  function askShell(shells) {
    return new Promise((resolve) => {
      /** @param {string} credential */
      const done = (credential) => {
        clearTimeout(timer);
        window.removeEventListener("message", onMessage);
        if (!credential) console.error("ddbridge: the extensions host's page gave this extension no credential");
        resolve(credential);
      };
      /** @param {MessageEvent} event */
      const onMessage = (event) => {
        if (!shells.includes(event.origin) || event.source !== window.parent) return;
        const data = event.data;
        done(data && typeof data.ddbridgeCredential === "string" ? data.ddbridgeCredential : "");
      };
      const timer = setTimeout(() => done(""), HANDOFF_TIMEOUT_MS);
      window.addEventListener("message", onMessage);
      // Nothing secret in the question: any origin may hear it; only the shell's answer counts.
      for (const shell of shells) window.parent.postMessage({ ddbridgeCredentialRequest: true }, shell);
    });
  }

  /**
   * @param {string} bridgeOrigin
   * @returns {Promise<string>}
   */
  function askBridge(bridgeOrigin) {
    return new Promise((resolve) => {
      const frame = document.createElement("iframe");
      frame.hidden = true;
      frame.src = bridgeOrigin + HANDOFF_PATH;
      /** @param {string} credential */
      const done = (credential) => {
        clearTimeout(timer);
        window.removeEventListener("message", onMessage);
        frame.remove();
        if (!credential) {
          console.error(`ddbridge: this browser is not signed in to ${bridgeOrigin}: open the URL ddbridge ` +
            "printed (…?token=…) there first, under the same host name as this page");
        }
        resolve(credential);
      };
      /** @param {MessageEvent} event */
      const onMessage = (event) => {
        if (event.origin !== bridgeOrigin || event.source !== frame.contentWindow) return;
        const data = event.data;
        done(data && typeof data.ddbridgeCredential === "string" ? data.ddbridgeCredential : "");
      };
      const timer = setTimeout(() => done(""), HANDOFF_TIMEOUT_MS);
      window.addEventListener("message", onMessage);
      (document.body || document.documentElement).appendChild(frame);
    });
  }

  // ---------------------------------------------------------------------------------------
  // Errors and results

  /**
   * A backend HTTP response outside 2xx, as Docker Desktop reports it: `name` is the reason
   * phrase, `message` the response body.
   */
  class ServiceError extends Error {
    /**
     * @param {{name?: string, message?: string, statusCode?: number}} data the RPC error's data
     * @param {string} fallbackMessage the RPC error's message, used when data has none
     */
    constructor(data, fallbackMessage) {
      super(typeof data.message === "string" ? data.message : fallbackMessage);
      this.name = data.name || "ServiceError";
      this.statusCode = data.statusCode;
    }
  }

  /**
   * @param {RpcErrorObject} error a JSON-RPC error object from the daemon
   * @returns {Error} a ServiceError for -32001, else an Error carrying `code` and `data`
   */
  function errorFromRpc(error) {
    if (error.code === SERVICE_ERROR_CODE) {
      return new ServiceError(error.data || {}, error.message);
    }
    return Object.assign(new Error(error.message), { code: error.code, data: error.data });
  }

  /** The outcome of a finished command, with Docker Desktop's parsing helpers. */
  class ExecResult {
    /** @param {RawExecResult} raw */
    constructor(raw) {
      this.cmd = raw.cmd;
      this.code = raw.code ?? undefined;
      this.signal = raw.signal ?? undefined;
      this.killed = raw.killed;
      this.stdout = raw.stdout;
      this.stderr = raw.stderr;
    }

    /** @returns {string[]} stdout split on "\n", without the empty string after a final "\n" */
    lines() {
      const lines = this.stdout.split("\n");
      if (lines[lines.length - 1] === "") lines.pop();
      return lines;
    }

    /** @returns {any[]} each non-blank stdout line parsed as JSON */
    parseJsonLines() {
      return this.lines()
        .filter((line) => line.trim() !== "")
        .map((line) => JSON.parse(line));
    }

    /** @returns {any} stdout parsed as one JSON value */
    parseJsonObject() {
      return JSON.parse(this.stdout);
    }
  }

  // ---------------------------------------------------------------------------------------
  // JSON-RPC connection

  /**
   * @typedef {object} PendingCall
   * @property {string} method
   * @property {(result: any) => void} resolve
   * @property {(error: unknown) => void} reject
   * @property {boolean} sent whether the request went out on the current socket
   */

  /**
   * One lazily opened WebSocket speaking JSON-RPC 2.0. Calls made while it is not open wait in
   * an outbox and go out once it opens; calls already sent are rejected when it drops. After a
   * drop or a failed attempt it reconnects with exponential backoff while calls are waiting, and
   * otherwise on the next call.
   */
  class RpcConnection {
    /**
     * @param {string} url
     * @param {object} hooks
     * @param {() => string | Promise<string>} hooks.credential what the socket authenticates with
     * @param {(method: string, params: any) => void} hooks.onNotification
     * @param {() => void} hooks.onDisconnect called after the socket closed
     */
    constructor(url, hooks) {
      this.url = url;
      this.hooks = hooks;
      /** @type {WebSocket | null} */
      this.socket = null;
      /** whether the credential is being fetched for the next socket */
      this.preparing = false;
      this.nextId = 1;
      /** @type {Map<number, PendingCall>} */
      this.pending = new Map();
      /** @type {{id: number, frame: string}[]} requests not sent yet */
      this.outbox = [];
      this.retryDelay = RECONNECT_FIRST_DELAY_MS;
      /** @type {ReturnType<typeof setTimeout> | null} */
      this.retryTimer = null;
      /** the credential of the last socket opened: what its streams' answers are read with */
      this.credential = "";
    }

    /**
     * Sends a request; connects first if needed.
     * @param {string} method
     * @param {object} params
     * @returns {Promise<any>} the result, or a rejection with the daemon's error
     */
    call(method, params) {
      return new Promise((resolve, reject) => {
        const id = this.nextId++;
        const frame = JSON.stringify({ jsonrpc: "2.0", id, method, params });
        this.pending.set(id, { method, resolve, reject, sent: false });
        this.outbox.push({ id, frame });
        this.flush();
      });
    }

    /** Sends the outbox if the socket is open, else makes sure a connection is on its way. */
    flush() {
      const socket = this.socket;
      if (!socket || socket.readyState !== WebSocket.OPEN) {
        this.connect();
        return;
      }
      for (const { id, frame } of this.outbox.splice(0)) {
        const call = this.pending.get(id);
        if (call) call.sent = true;
        socket.send(frame);
      }
    }

    connect() {
      if (this.socket || this.preparing || this.retryTimer !== null) return;
      const credential = this.hooks.credential();
      if (typeof credential === "string") {
        this.open(credential);
        return;
      }
      this.preparing = true;
      credential.then((value) => {
        this.preparing = false;
        this.open(value);
      });
    }

    /** @param {string} credential */
    open(credential) {
      this.credential = credential;
      let socket;
      try {
        socket = new WebSocket(this.url, subprotocols(credential));
      } catch (error) {
        console.error("ddbridge: cannot open", this.url, error);
        this.scheduleReconnect();
        return;
      }
      this.socket = socket;
      let opened = false;
      socket.onopen = () => {
        opened = true;
        this.retryDelay = RECONNECT_FIRST_DELAY_MS;
        this.flush();
      };
      socket.onmessage = (event) => this.receive(event.data);
      socket.onclose = (event) => this.handleClose(socket, opened, event.code, event.reason);
    }

    scheduleReconnect() {
      const delay = this.retryDelay * (0.5 + Math.random() / 2);
      this.retryDelay = Math.min(this.retryDelay * 2, RECONNECT_MAX_DELAY_MS);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.connect();
      }, delay);
    }

    /**
     * @param {WebSocket} socket
     * @param {boolean} opened whether it had opened (else this was a failed attempt)
     * @param {number} code the close code
     * @param {string} reason the close reason the daemon gave, if any
     */
    handleClose(socket, opened, code, reason) {
      if (this.socket !== socket) return;
      this.socket = null;
      const why = reason ? `: ${reason} (code ${code})` : "";
      if (opened) console.warn(`ddbridge: connection to the daemon closed${why || ` (code ${code})`}`);
      // Refused for its credential: waiting calls cannot succeed either; say why to each.
      const refused = code === UNAUTHENTICATED_CLOSE_CODE;
      if (refused) {
        console.error(`ddbridge: the daemon refused this page${why}; open the URL ddbridge printed ` +
          "(…?token=…) in this browser, then reload");
        this.outbox.splice(0);
      }
      for (const [id, call] of this.pending) {
        if (!call.sent && !refused) continue;
        this.pending.delete(id);
        call.reject(new Error(
          `ddbridge: connection to the daemon was lost before ${call.method} answered${why}`));
      }
      this.hooks.onDisconnect();
      if (this.outbox.length > 0) this.scheduleReconnect();
    }

    /** @param {unknown} data a frame's payload */
    receive(data) {
      let message;
      try {
        if (typeof data !== "string") throw new TypeError("not a text frame");
        message = JSON.parse(data);
      } catch (error) {
        console.warn("ddbridge: ignoring a malformed frame from the daemon:", error);
        return;
      }
      for (const item of Array.isArray(message) ? message : [message]) this.dispatch(item);
    }

    /** @param {any} message one JSON-RPC response or notification */
    dispatch(message) {
      if (message && typeof message.method === "string" && message.id === undefined) {
        this.hooks.onNotification(message.method, message.params);
        return;
      }
      const call = message ? this.pending.get(message.id) : undefined;
      if (!call || !("result" in message || "error" in message)) {
        console.warn("ddbridge: ignoring an unexpected message from the daemon:", message);
        return;
      }
      this.pending.delete(message.id);
      if (message.error) call.reject(errorFromRpc(message.error));
      else call.resolve(message.result);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Streams

  /**
   * One command started with exec.spawn. It learns its daemon id when the spawn call answers,
   * splits output into lines when asked to, and turns the daemon's notifications into the
   * caller's callbacks. It ends exactly once: exit, error, or lost connection.
   */
  class ExecStream {
    /**
     * @param {string} cmd the command, for error messages
     * @param {StreamSink} sink
     * @param {boolean} splitLines
     * @param {(id: string) => void} kill asks the daemon to end the stream
     */
    constructor(cmd, sink, splitLines, kill) {
      this.cmd = cmd;
      this.sink = sink;
      this.kill = kill;
      /** @type {string | null} */
      this.id = null;
      this.closeRequested = false;
      this.finished = false;
      /** @type {Record<OutputKind, string> | null} the unfinished last line of each output */
      this.partial = splitLines ? { stdout: "", stderr: "" } : null;
    }

    /** Ends the process; before the daemon named the stream, as soon as it does. */
    close() {
      if (this.closeRequested || this.finished) return;
      this.closeRequested = true;
      if (this.id !== null) this.kill(this.id);
    }

    /** @param {string} id the daemon's stream id */
    started(id) {
      this.id = id;
      if (this.closeRequested) this.kill(id);
    }

    /**
     * @param {OutputKind} kind
     * @param {string} chunk
     */
    output(kind, chunk) {
      if (!this.partial) {
        this.sink.output(kind, chunk);
        return;
      }
      const lines = (this.partial[kind] + chunk).split("\n");
      this.partial[kind] = lines.pop() || "";
      for (const line of lines) this.sink.output(kind, line);
    }

    /** @param {number} code */
    exit(code) {
      if (this.finished) return;
      this.flushPartialLines();
      this.finished = true;
      this.sink.close(code);
    }

    /** @param {unknown} error */
    fail(error) {
      if (this.finished) return;
      this.flushPartialLines();
      this.finished = true;
      this.sink.error(error);
    }

    flushPartialLines() {
      const partial = this.partial;
      if (!partial) return;
      for (const kind of /** @type {OutputKind[]} */ (["stdout", "stderr"])) {
        if (partial[kind] !== "") this.sink.output(kind, partial[kind]);
        partial[kind] = "";
      }
    }
  }

  /**
   * Routes exec.* notifications to their ExecStream. Notifications for a stream id that is not
   * registered yet are kept until it is, so none is lost whatever the arrival order.
   */
  class StreamRegistry {
    constructor() {
      /** @type {Map<string, ExecStream>} */
      this.active = new Map();
      /** @type {Map<string, [string, any][]>} */
      this.early = new Map();
    }

    /**
     * @param {string} id
     * @param {ExecStream} stream
     */
    add(id, stream) {
      this.active.set(id, stream);
      stream.started(id);
      const early = this.early.get(id) || [];
      this.early.delete(id);
      for (const [method, params] of early) this.dispatch(method, params);
    }

    /**
     * @param {string} method exec.output, exec.exit or exec.error
     * @param {any} params
     */
    dispatch(method, params) {
      const id = params && params.stream;
      const stream = this.active.get(id);
      if (!stream) {
        const early = this.early.get(id) || [];
        early.push([method, params]);
        this.early.set(id, early);
        return;
      }
      if (method === "exec.output") {
        if (typeof params.stdout === "string") stream.output("stdout", params.stdout);
        if (typeof params.stderr === "string") stream.output("stderr", params.stderr);
      } else if (method === "exec.exit") {
        this.active.delete(id);
        stream.exit(params.code);
      } else {
        this.active.delete(id);
        stream.fail(new Error(params.message));
      }
    }

    /** Ends every stream with an error: the daemon killed them when the socket closed. */
    disconnected() {
      const lost = [...this.active.values()];
      this.active.clear();
      this.early.clear();
      for (const stream of lost) {
        stream.fail(new Error(
          `ddbridge: connection to the daemon was lost while ${stream.cmd} was running`));
      }
    }
  }

  /** @returns {Promise<void>} resolved in a task of its own, after what waits to run */
  function nextTask() {
    return new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => resolve();
      channel.port2.postMessage(null);
    });
  }

  /**
   * A body's reader that reads into one buffer again and again where the browser can (a BYOB
   * reader: no new buffer for each piece), else the default one.
   * @param {ReadableStream<Uint8Array>} body
   * @returns {{next: () => Promise<ReadableStreamReadResult<Uint8Array>>, cancel: () => Promise<void>}}
   */
  function bodyReader(body) {
    const cancel = (/** @type {ReadableStreamGenericReader} */ reader) => () => reader.cancel().catch(() => undefined);
    let byob;
    try {
      byob = body.getReader({ mode: "byob" });
    } catch {
      const reader = body.getReader();
      return { next: () => reader.read(), cancel: cancel(reader) };
    }
    let buffer = new ArrayBuffer(ANSWER_READ_BYTES);
    return {
      next: async () => {
        const result = await byob.read(new Uint8Array(buffer));
        if (result.value) buffer = result.value.buffer;
        return result;
      },
      cancel: cancel(byob),
    };
  }

  /**
   * Reads a stream's output answer (bridge/stream_answer.py): records of a kind byte, a
   * 4-byte big-endian length and as many bytes: output (decoded here, a character split
   * across records kept whole) or, last, the end, a notification as the socket would carry it.
   * @param {Response} response
   * @param {ExecStream} stream
   * @param {StreamRegistry} streams where the end goes, as the socket's notifications do
   */
  async function readAnswer(response, stream, streams) {
    if (!response.ok || !response.body) {
      const detail = await response.text().catch(() => "");
      throw new Error(`the output answer failed: HTTP ${response.status} ${detail}`.trim());
    }
    const read = bodyReader(response.body);
    const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
    const header = new Uint8Array(5);
    let headerFill = 0;
    let kind = -1; // the record being read, -1 between records
    let left = 0; // its bytes still to come
    const endDecoder = new TextDecoder();
    let endText = ""; // the end record's JSON, decoded as it comes
    let lastYield = performance.now();
    for (;;) {
      const { done, value } = await read.next();
      if (done || !value) break;
      let at = 0;
      while (at < value.length) {
        if (kind === -1) {
          const take = Math.min(5 - headerFill, value.length - at);
          header.set(value.subarray(at, at + take), headerFill);
          headerFill += take;
          at += take;
          if (headerFill < 5) break;
          headerFill = 0;
          kind = header[0];
          left = ((header[1] << 24) | (header[2] << 16) | (header[3] << 8) | header[4]) >>> 0;
          if (kind !== ANSWER_END_RECORD && !ANSWER_OUTPUT_RECORDS[kind]) {
            throw new Error(`the output answer has a record of unknown kind ${kind}`);
          }
        }
        const take = Math.min(left, value.length - at);
        const piece = value.subarray(at, at + take);
        at += take;
        left -= take;
        if (kind === ANSWER_END_RECORD) {
          endText += endDecoder.decode(piece, { stream: true });
          if (left > 0) continue;
          for (const name of /** @type {OutputKind[]} */ (["stdout", "stderr"])) {
            const tail = decoders[name].decode();
            if (tail) stream.output(name, tail);
          }
          const end = JSON.parse(endText + endDecoder.decode());
          streams.dispatch(end.method, end.params);
          await read.cancel();
          return;
        }
        const name = ANSWER_OUTPUT_RECORDS[kind];
        const text = decoders[name].decode(piece, { stream: true });
        if (text) stream.output(name, text);
        if (left === 0) kind = -1;
      }
      if (stream.finished) {
        await read.cancel();
        return;
      }
      if (performance.now() - lastYield > ANSWER_YIELD_MS) {
        await nextTask();
        lastYield = performance.now();
      }
    }
    throw new Error("the output answer ended before the stream did");
  }

  /**
   * Calls a callback the extension gave, so that its exceptions do not break the shim.
   * @param {((...args: any[]) => void) | undefined} callback
   * @param {...any} args
   */
  function callBack(callback, ...args) {
    if (!callback) return;
    try {
      callback(...args);
    } catch (error) {
      console.error("ddbridge: an extension callback threw:", error);
    }
  }

  /**
   * @param {ExecStreamOptions} options v1 stream callbacks
   * @returns {StreamSink}
   */
  function v1Sink(options) {
    return {
      output: (kind, chunk) => callBack(options.onOutput,
        kind === "stdout" ? { stdout: chunk } : { stderr: chunk }),
      close: (code) => callBack(options.onClose, code),
      error: (error) => options.onError
        ? callBack(options.onError, error)
        : console.error("ddbridge: stream failed:", error),
    };
  }

  /**
   * @param {(data: any, error: any) => void} callback a v0 spawn callback
   * @returns {StreamSink}
   */
  function v0Sink(callback) {
    return {
      output: (kind, chunk) => callBack(callback, { [kind]: chunk }, undefined),
      close: (code) => callBack(callback, { code }, undefined),
      error: (error) => callBack(callback, undefined, error),
    };
  }

  // ---------------------------------------------------------------------------------------
  // Toasts

  const TOAST_COLORS = {
    success: "background:#1e7b34;color:#ffffff;",
    warning: "background:#f5a10c;color:#17191e;",
    error: "background:#c62828;color:#ffffff;",
  };

  /** @typedef {keyof typeof TOAST_COLORS} ToastLevel */

  /**
   * Small non-blocking toasts at the bottom right of the page. Toasts shown before the page
   * has a body wait for DOMContentLoaded.
   */
  class ToastView {
    /** @param {Document} doc */
    constructor(doc) {
      this.doc = doc;
      /** @type {HTMLElement | null} */
      this.container = null;
      /** @type {[ToastLevel, string][]} */
      this.waiting = [];
    }

    /**
     * @param {ToastLevel} level
     * @param {string} message
     */
    show(level, message) {
      if (this.doc.body) {
        this.render(level, message);
        return;
      }
      this.waiting.push([level, message]);
      if (this.waiting.length === 1) {
        this.doc.addEventListener("DOMContentLoaded", () => {
          for (const [waitingLevel, waitingMessage] of this.waiting.splice(0)) {
            this.render(waitingLevel, waitingMessage);
          }
        }, { once: true });
      }
    }

    /**
     * @param {ToastLevel} level
     * @param {string} message
     */
    render(level, message) {
      const toast = this.doc.createElement("div");
      toast.setAttribute("role", "status");
      toast.setAttribute("data-ddbridge-toast", level);
      toast.textContent = message;
      toast.style.cssText = "pointer-events:auto;cursor:pointer;padding:10px 14px;"
        + "border-radius:4px;box-shadow:0 2px 8px rgba(0,0,0,.3);overflow-wrap:anywhere;"
        + "font:14px/1.4 Roboto,system-ui,-apple-system,'Segoe UI',sans-serif;"
        + TOAST_COLORS[level];
      toast.addEventListener("click", () => toast.remove());
      this.containerElement().appendChild(toast);
      setTimeout(() => toast.remove(), TOAST_DURATION_MS);
    }

    /** @returns {HTMLElement} the toast container, (re)attached to the body */
    containerElement() {
      if (!this.container || !this.container.isConnected) {
        const container = this.doc.createElement("div");
        container.setAttribute("data-ddbridge-toasts", "");
        container.style.cssText = "position:fixed;right:16px;bottom:16px;z-index:2147483647;"
          + "display:flex;flex-direction:column;gap:8px;max-width:min(420px,calc(100vw - 32px));"
          + "pointer-events:none;";
        /** @type {HTMLElement} */ (this.doc.body).appendChild(container);
        this.container = container;
      }
      return this.container;
    }
  }

  // ---------------------------------------------------------------------------------------
  // Open dialog

  /**
   * What desktop.listDirectory lists (protocol.md).
   * @typedef {object} DialogEntry
   * @property {string} name
   * @property {string} path
   * @property {"file" | "dir" | "link"} kind "link": a symlink leading out of the roots
   * @property {number | null} size
   * @property {number} mtime seconds since the epoch
   * @property {boolean} [link]
   *
   * @typedef {object} DialogListing
   * @property {string} path
   * @property {string | null} parent null at a root
   * @property {{name: string, path: string}[]} crumbs the path bar, from the root down
   * @property {DialogEntry[]} entries folders first
   * @property {boolean} truncated
   *
   * @typedef {{name: string, extensions: string[]}} FileFilter
   * @typedef {{canceled: boolean, filePaths: string[]}} OpenDialogAnswer
   *
   * The props the dialog honours, read from Electron's OpenDialogOptions.
   * @typedef {object} DialogOptions
   * @property {string} title
   * @property {string} buttonLabel
   * @property {string} message
   * @property {boolean} files whether files can be chosen
   * @property {boolean} directories whether folders can be chosen
   * @property {boolean} multiple
   * @property {boolean} showHidden
   * @property {FileFilter[]} filters
   *
   * @typedef {object} DialogCalls the daemon calls the dialog makes
   * @property {(path: string, showHidden: boolean) => Promise<DialogListing>} list
   * @property {(filePaths: string[]) => Promise<OpenDialogAnswer>} resolve
   */

  /**
   * @param {any} props showOpenDialog's argument (the daemon validated it)
   * @returns {DialogOptions}
   */
  function dialogOptions(props) {
    const properties = Array.isArray(props.properties) ? props.properties : [];
    const directories = properties.includes("openDirectory");
    return {
      title: text(props.title),
      buttonLabel: text(props.buttonLabel),
      message: text(props.message),
      files: properties.includes("openFile") || !directories,
      directories,
      multiple: properties.includes("multiSelections"),
      showHidden: properties.includes("showHiddenFiles"),
      filters: Array.isArray(props.filters) ? props.filters : [],
    };
  }

  /**
   * Whether a file passes a filter: its extension (after the last dot, any case) is one of the
   * filter's, or the filter has "*". No filter lets everything through.
   * @param {string} name
   * @param {FileFilter | undefined} filter
   */
  function passesFilter(name, filter) {
    if (!filter) return true;
    const dot = name.lastIndexOf(".");
    const extension = dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
    return filter.extensions.some((wanted) => {
      const bare = wanted.replace(/^\./, "").toLowerCase();
      return bare === "*" || (bare !== "" && bare === extension);
    });
  }

  /**
   * @param {DialogEntry} entry
   * @param {DialogOptions} options
   * @returns {boolean} whether the entry can be chosen
   */
  function choosable(entry, options) {
    return entry.kind === "dir" ? options.directories : entry.kind === "file" && options.files;
  }

  /** @param {number | null} size */
  function formatSize(size) {
    if (size === null) return "";
    const units = ["B", "KB", "MB", "GB", "TB"];
    let value = size;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
  }

  const DIALOG_CSS = `
:host { all: initial; }
.backdrop { position: fixed; inset: 0; z-index: 2147483646; display: flex; align-items: center;
  justify-content: center; background: rgba(23, 25, 30, .45);
  font: 14px/1.43 Roboto, system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif;
  --bg: #ffffff; --fg: #17191e; --muted: #505968; --line: #e1e2e6; --hover: #f4f4f6;
  --accent: #1d63ed; --accent-fg: #ffffff; --selected: #e5eeff; --error: #c62828; --folder: #4b8bf5; }
@media (prefers-color-scheme: dark) {
  .backdrop { background: rgba(0, 0, 0, .6); --bg: #2e3035; --fg: #e8eaed; --muted: #c4c8d1;
    --line: #3b404a; --hover: #3b404a; --accent: #4b8bf5; --accent-fg: #ffffff;
    --selected: #0f3e9c; --error: #ea6262; --folder: #8fb2fb; }
}
.dialog { box-sizing: border-box; width: min(720px, calc(100vw - 32px)); height: min(560px, calc(100vh - 32px));
  display: flex; flex-direction: column; background: var(--bg); color: var(--fg); border-radius: 8px;
  box-shadow: 0 12px 40px rgba(0, 0, 0, .35); overflow: hidden; }
.head { padding: 16px 20px 8px; }
h2 { margin: 0; font-size: 18px; font-weight: 500; }
.message { margin: 4px 0 0; color: var(--muted); }
.bar { display: flex; align-items: center; gap: 8px; padding: 8px 20px; border-bottom: 1px solid var(--line); }
.crumbs { display: flex; flex-wrap: wrap; align-items: center; gap: 2px; min-width: 0; flex: 1;
  list-style: none; margin: 0; padding: 0; }
.crumbs li + li::before { content: "/"; color: var(--muted); padding: 0 2px; }
button, select { font: inherit; color: inherit; }
.crumb { border: 0; background: none; padding: 2px 6px; border-radius: 4px; cursor: pointer; color: var(--accent);
  overflow-wrap: anywhere; text-align: left; }
.crumb[aria-current="location"] { color: var(--fg); font-weight: 500; cursor: default; }
.crumb:hover:not([aria-current]) { background: var(--hover); }
.icon-button { border: 1px solid var(--line); background: none; border-radius: 4px; width: 30px; height: 30px;
  cursor: pointer; }
.icon-button:disabled { opacity: .4; cursor: default; }
select { background: var(--bg); border: 1px solid var(--line); border-radius: 4px; padding: 4px 6px; }
.list { flex: 1; overflow: auto; padding: 4px 8px; outline: none; }
.entry { display: grid; grid-template-columns: 22px minmax(0, 1fr) 88px 150px; align-items: center; gap: 8px;
  padding: 5px 12px; border-radius: 4px; cursor: default; user-select: none; }
.entry:hover { background: var(--hover); }
.entry[aria-selected="true"] { background: var(--selected); }
.entry[aria-disabled="true"] { opacity: .45; }
.entry:focus-visible, button:focus-visible, select:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
.name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.size, .date { color: var(--muted); font-size: 12px; text-align: right; white-space: nowrap; }
.icon { width: 16px; height: 12px; position: relative; justify-self: center; }
.icon.dir { background: var(--folder); border-radius: 1px 3px 3px 3px; margin-top: 3px; }
.icon.dir::before { content: ""; position: absolute; left: 0; top: -3px; width: 7px; height: 3px;
  background: var(--folder); border-radius: 2px 2px 0 0; }
.icon.file { width: 12px; height: 15px; border: 1.5px solid var(--muted); border-radius: 2px; box-sizing: border-box; }
.icon.link { border: 1.5px dashed var(--muted); border-radius: 3px; box-sizing: border-box; }
.empty { color: var(--muted); padding: 24px; text-align: center; }
.status { min-height: 20px; padding: 0 20px; color: var(--error); font-size: 13px; overflow-wrap: anywhere; }
.foot { display: flex; align-items: center; gap: 8px; padding: 12px 20px 16px; border-top: 1px solid var(--line); }
.foot .spacer { flex: 1; color: var(--muted); font-size: 13px; }
.button { border-radius: 4px; padding: 6px 16px; font-weight: 500; cursor: pointer; border: 1px solid var(--accent); }
.cancel { background: none; color: var(--accent); }
.ok { background: var(--accent); color: var(--accent-fg); }
.ok:disabled { opacity: .45; cursor: default; }
`;

  /**
   * The dialog standing in for Electron's: a modal in the page, in a shadow root so that the
   * page's CSS and the dialog's do not mix, browsing the host through the daemon. Only what the
   * daemon listed can be chosen, and the daemon checks the choice again (desktop.resolveDialog).
   */
  class OpenDialogView {
    /**
     * @param {Document} doc
     * @param {DialogOptions} options
     * @param {string[]} roots
     * @param {DialogCalls} calls
     */
    constructor(doc, options, roots, calls) {
      this.doc = doc;
      this.options = options;
      this.roots = roots;
      this.calls = calls;
      /** @type {DialogListing | null} */
      this.listing = null;
      /** @type {Set<string>} paths of the chosen entries */
      this.chosen = new Set();
      /** @type {FileFilter | undefined} */
      this.filter = options.filters[0];
      /** @type {(answer: OpenDialogAnswer) => void} */
      this.finish = () => undefined;
      this.host = doc.createElement("div");
      this.host.setAttribute("data-ddbridge-dialog-host", "");
      this.root = this.host.attachShadow({ mode: "open" });
      this.returnFocus = doc.activeElement;
      this.generation = 0;
      this.build();
    }

    /**
     * @template {keyof HTMLElementTagNameMap} K
     * @param {K} tag
     * @param {string} className
     * @param {HTMLElement} parent
     * @param {string} [content] text, never HTML
     * @returns {HTMLElementTagNameMap[K]}
     */
    add(tag, className, parent, content) {
      const element = this.doc.createElement(tag);
      if (className) element.className = className;
      if (content !== undefined) element.textContent = content;
      parent.appendChild(element);
      return element;
    }

    build() {
      const style = this.doc.createElement("style");
      style.textContent = DIALOG_CSS;
      this.root.appendChild(style);
      const backdrop = this.doc.createElement("div");
      backdrop.className = "backdrop";
      this.root.appendChild(backdrop);
      const dialog = this.add("div", "dialog", backdrop);
      this.dialog = dialog;
      dialog.setAttribute("role", "dialog");
      dialog.setAttribute("aria-modal", "true");
      dialog.setAttribute("aria-labelledby", "ddbridge-dialog-title");
      dialog.setAttribute("data-ddbridge-dialog", "");
      const options = this.options;
      const head = this.add("div", "head", dialog);
      const fallbackTitle = options.files ? (options.multiple ? "Open files" : "Open file") : "Choose a folder";
      this.add("h2", "", head, options.title || fallbackTitle).id = "ddbridge-dialog-title";
      if (options.message) this.add("p", "message", head, options.message);

      const bar = this.add("div", "bar", dialog);
      this.up = this.add("button", "icon-button", bar, "↑");
      this.up.type = "button";
      this.up.title = "Parent folder";
      this.up.setAttribute("aria-label", "Parent folder");
      this.up.setAttribute("data-ddbridge-dialog-up", "");
      this.up.addEventListener("click", () => this.goUp());
      if (this.roots.length > 1) {
        const rootSelect = this.add("select", "", bar);
        rootSelect.setAttribute("aria-label", "Place");
        rootSelect.setAttribute("data-ddbridge-dialog-root", "");
        for (const root of this.roots) this.add("option", "", rootSelect, root).value = root;
        rootSelect.addEventListener("change", () => this.go(rootSelect.value));
        this.rootSelect = rootSelect;
      }
      const crumbs = this.add("ol", "crumbs", this.add("nav", "", bar));
      crumbs.parentElement?.setAttribute("aria-label", "Path");
      this.crumbs = crumbs;

      const list = this.add("div", "list", dialog);
      list.setAttribute("role", "listbox");
      list.setAttribute("aria-label", "Contents");
      list.setAttribute("data-ddbridge-dialog-list", "");
      if (options.multiple) list.setAttribute("aria-multiselectable", "true");
      list.addEventListener("keydown", (event) => this.listKey(event));
      this.list = list;

      this.status = this.add("div", "status", dialog);
      this.status.setAttribute("role", "alert");
      this.status.setAttribute("data-ddbridge-dialog-status", "");

      const foot = this.add("div", "foot", dialog);
      if (options.filters.length > 0) {
        const filterSelect = this.add("select", "", foot);
        filterSelect.setAttribute("aria-label", "File type");
        filterSelect.setAttribute("data-ddbridge-dialog-filter", "");
        options.filters.forEach((filter, index) => {
          const label = `${filter.name} (${filter.extensions.map((e) => (e === "*" ? "*" : `*.${e}`)).join(", ")})`;
          this.add("option", "", filterSelect, label).value = String(index);
        });
        filterSelect.addEventListener("change", () => {
          this.filter = options.filters[Number(filterSelect.value)];
          this.render();
        });
      }
      this.summary = this.add("span", "spacer", foot);
      this.summary.setAttribute("aria-live", "polite");
      const cancel = this.add("button", "button cancel", foot, "Cancel");
      cancel.type = "button";
      cancel.setAttribute("data-ddbridge-dialog-cancel", "");
      cancel.addEventListener("click", () => this.cancel());
      this.ok = this.add("button", "button ok", foot, options.buttonLabel || (options.files ? "Open" : "Select"));
      this.ok.type = "button";
      this.ok.setAttribute("data-ddbridge-dialog-ok", "");
      this.ok.addEventListener("click", () => this.confirm());
      dialog.addEventListener("keydown", (event) => this.dialogKey(event));
    }

    /**
     * Shows the dialog at `start` and settles when the user confirms or cancels.
     * @param {string} start
     * @returns {Promise<OpenDialogAnswer>}
     */
    open(start) {
      /** @type {HTMLElement} */ (this.doc.body).appendChild(this.host);
      const answer = new Promise((resolve) => {
        this.finish = (/** @type {OpenDialogAnswer} */ result) => {
          this.host.remove();
          if (this.returnFocus instanceof HTMLElement) this.returnFocus.focus();
          resolve(result);
        };
      });
      this.go(start);
      return answer;
    }

    /**
     * Lists a folder and shows it; a refusal shows in the status line and keeps what was shown.
     * Focus lost with the old entries and path bar goes to the first entry (Esc keeps working).
     * @param {string} path
     */
    async go(path) {
      const generation = ++this.generation;
      try {
        const listing = await this.calls.list(path, this.options.showHidden);
        if (generation !== this.generation) return;
        this.listing = listing;
        this.chosen.clear();
        this.showError("");
        this.render();
        const active = this.root.activeElement;
        if (!active || !active.isConnected) this.focusFirst();
      } catch (error) {
        if (generation === this.generation) this.showError(errorMessage(error));
      }
    }

    goUp() {
      if (this.listing && this.listing.parent !== null) this.go(this.listing.parent);
    }

    /** @param {string} message "" clears it */
    showError(message) {
      /** @type {HTMLElement} */ (this.status).textContent = message;
    }

    /** @returns {DialogEntry[]} the entries shown: files through the active filter */
    visibleEntries() {
      const entries = this.listing ? this.listing.entries : [];
      return entries.filter((entry) => entry.kind !== "file" || passesFilter(entry.name, this.filter));
    }

    render() {
      const listing = this.listing;
      if (!listing) return;
      const crumbs = /** @type {HTMLElement} */ (this.crumbs);
      crumbs.replaceChildren();
      listing.crumbs.forEach((crumb, index) => {
        const button = this.add("button", "crumb", this.add("li", "", crumbs), crumb.name);
        button.type = "button";
        button.setAttribute("data-ddbridge-crumb", crumb.path);
        button.title = crumb.path;
        if (index === listing.crumbs.length - 1) button.setAttribute("aria-current", "location");
        else button.addEventListener("click", () => this.go(crumb.path));
      });
      /** @type {HTMLButtonElement} */ (this.up).disabled = listing.parent === null;
      if (this.rootSelect) this.rootSelect.value = listing.crumbs[0] ? listing.crumbs[0].path : "";
      const list = /** @type {HTMLElement} */ (this.list);
      list.replaceChildren();
      const entries = this.visibleEntries();
      if (entries.length === 0) this.add("div", "empty", list, "This folder is empty");
      for (const entry of entries) list.appendChild(this.renderEntry(entry));
      if (listing.truncated) this.add("div", "empty", list, "Only the first entries are shown");
      const first = list.querySelector("[role=option]");
      if (first) first.setAttribute("tabindex", "0");
      this.updateSelection();
    }

    /**
     * @param {DialogEntry} entry
     * @returns {HTMLElement}
     */
    renderEntry(entry) {
      const row = this.doc.createElement("div");
      row.className = "entry";
      row.setAttribute("role", "option");
      row.setAttribute("tabindex", "-1");
      row.setAttribute("data-ddbridge-entry", entry.name);
      row.setAttribute("data-kind", entry.kind);
      const canChoose = choosable(entry, this.options);
      if (!canChoose && entry.kind !== "dir") row.setAttribute("aria-disabled", "true");
      row.title = entry.kind === "link" ? `${entry.path} leads outside the folders shown here` : entry.path;
      this.add("span", `icon ${entry.kind}`, row).setAttribute("aria-hidden", "true");
      this.add("span", "name", row, entry.name + (entry.link ? " ↗" : ""));
      this.add("span", "size", row, entry.kind === "file" ? formatSize(entry.size) : "");
      this.add("span", "date", row, new Date(entry.mtime * 1000).toLocaleString(undefined,
        { dateStyle: "medium", timeStyle: "short" }));
      row.addEventListener("click", (event) => {
        this.focusEntry(row);
        if (canChoose) this.choose(entry, event.ctrlKey || event.metaKey);
      });
      row.addEventListener("dblclick", () => {
        if (entry.kind === "dir") this.go(entry.path);
        else if (canChoose) this.confirm();
      });
      return row;
    }

    /**
     * @param {DialogEntry} entry
     * @param {boolean} toggle add or remove it from the selection (multiSelections), else only it
     */
    choose(entry, toggle) {
      if (toggle && this.options.multiple) {
        if (this.chosen.has(entry.path)) this.chosen.delete(entry.path);
        else this.chosen.add(entry.path);
      } else {
        this.chosen.clear();
        this.chosen.add(entry.path);
      }
      this.updateSelection();
    }

    /** @returns {string[]} what OK returns: the chosen entries, else (folders) the folder shown */
    selection() {
      const shown = new Set(this.visibleEntries().map((entry) => entry.path));
      const chosen = [...this.chosen].filter((path) => shown.has(path));
      if (chosen.length === 0 && this.options.directories && this.listing) return [this.listing.path];
      return chosen;
    }

    updateSelection() {
      const list = /** @type {HTMLElement} */ (this.list);
      for (const row of list.querySelectorAll("[role=option]")) {
        const path = this.entryPath(row);
        row.setAttribute("aria-selected", String(path !== null && this.chosen.has(path)));
      }
      const selection = this.selection();
      /** @type {HTMLButtonElement} */ (this.ok).disabled = selection.length === 0;
      const count = this.chosen.size;
      /** @type {HTMLElement} */ (this.summary).textContent = count > 1 ? `${count} selected` : "";
    }

    /**
     * @param {Element} row
     * @returns {string | null}
     */
    entryPath(row) {
      const name = row.getAttribute("data-ddbridge-entry");
      const entry = this.listing && this.listing.entries.find((candidate) => candidate.name === name);
      return entry ? entry.path : null;
    }

    /** @param {Element} row */
    focusEntry(row) {
      const list = /** @type {HTMLElement} */ (this.list);
      for (const other of list.querySelectorAll("[role=option]")) other.setAttribute("tabindex", "-1");
      row.setAttribute("tabindex", "0");
      if (row instanceof HTMLElement) row.focus();
    }

    focusFirst() {
      const list = /** @type {HTMLElement} */ (this.list);
      const first = list.querySelector("[role=option]");
      if (first) this.focusEntry(first);
      else /** @type {HTMLElement} */ (this.dialog).querySelector("button")?.focus();
    }

    /**
     * Arrows move, Space chooses, Enter opens the focused folder (when files are wanted),
     * Backspace goes up.
     * @param {KeyboardEvent} event
     */
    listKey(event) {
      const rows = [.../** @type {HTMLElement} */ (this.list).querySelectorAll("[role=option]")];
      const current = rows.indexOf(/** @type {Element} */ (this.root.activeElement));
      const entry = current >= 0 ? this.visibleEntries()[current] : undefined;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        const next = rows[Math.max(0, Math.min(rows.length - 1, current + (event.key === "ArrowDown" ? 1 : -1)))];
        if (next) this.focusEntry(next);
      } else if (event.key === " " && entry && choosable(entry, this.options)) {
        this.choose(entry, this.options.multiple);
      } else if (event.key === "Enter" && entry && entry.kind === "dir" && !this.options.directories) {
        this.go(entry.path);
      } else if (event.key === "Backspace") {
        this.goUp();
      } else {
        return;
      }
      event.preventDefault();
      event.stopPropagation();
    }

    /**
     * Esc cancels, Enter confirms, Tab stays inside the dialog.
     * @param {KeyboardEvent} event
     */
    dialogKey(event) {
      const active = this.root.activeElement;
      if (event.key === "Escape") {
        this.cancel();
      } else if (event.key === "Enter" && !(active instanceof HTMLButtonElement || active instanceof HTMLSelectElement)) {
        this.confirm();
      } else if (event.key === "Tab") {
        const focusable = [.../** @type {HTMLElement} */ (this.dialog).querySelectorAll(
          "button:not([disabled]), select, [tabindex='0']")];
        const first = /** @type {HTMLElement | undefined} */ (focusable[0]);
        const last = /** @type {HTMLElement | undefined} */ (focusable[focusable.length - 1]);
        if (!first || !last) return;
        if (event.shiftKey && (active === first || !focusable.includes(/** @type {Element} */ (active)))) {
          last.focus();
        } else if (!event.shiftKey && (active === last || !focusable.includes(/** @type {Element} */ (active)))) {
          first.focus();
        } else {
          return;
        }
      } else {
        return;
      }
      event.preventDefault();
      event.stopPropagation();
    }

    cancel() {
      this.finish({ canceled: true, filePaths: [] });
    }

    /** Asks the daemon to check the selection; closes on its answer, else shows why not. */
    async confirm() {
      const selection = this.selection();
      if (selection.length === 0) return;
      try {
        this.finish(await this.calls.resolve(selection));
      } catch (error) {
        this.showError(errorMessage(error));
      }
    }
  }

  /**
   * @param {unknown} error
   * @returns {string}
   */
  function errorMessage(error) {
    return error instanceof Error ? error.message : String(error);
  }

  // ---------------------------------------------------------------------------------------
  // The client

  /**
   * Builds window.ddClient on top of the connection.
   * @param {BridgeConfig} config
   * @param {RpcConnection} rpc
   * @param {StreamRegistry} streams
   * @param {ToastView} toasts
   * @returns {BridgeClient}
   */
  function createClient(config, rpc, streams, toasts) {
    // Streams are read as HTTP answers when this page is on the daemon's own origin (a page of
    // another origin would need CORS for the credential's header) and the browser can.
    const rpcHttpUrl = new URL(rpc.url);
    rpcHttpUrl.protocol = rpcHttpUrl.protocol === "wss:" ? "https:" : "http:";
    const answersReadable = rpcHttpUrl.origin === location.origin && typeof fetch === "function" &&
      typeof TextDecoder === "function" && typeof MessageChannel === "function";
    let answersReading = 0;
    /**
     * Calls a method whose outcome nobody awaits; failures are logged.
     * @param {string} method
     * @param {object} params
     */
    function callAndLog(method, params) {
      rpc.call(method, params).catch((error) => console.warn(`ddbridge: ${method} failed:`, error));
    }

    /**
     * @param {string} target "vm", "host", "docker" or "container:<name>"
     * @param {string} cmd
     * @param {string[] | undefined} args
     * @param {ExecOptions | undefined} options
     */
    function execParams(target, cmd, args, options) {
      const { cwd, env } = options || {};
      return { target, cmd, args: args || [], cwd, env };
    }

    /**
     * Runs a command to completion.
     * @param {object} params exec.run params
     * @returns {Promise<ExecResult>} resolves when the exit code is 0, else rejects with the
     *   ExecResult itself (Docker Desktop does; extensions read `stderr` from it)
     */
    function run(params) {
      return rpc.call("exec.run", params).then((/** @type {RawExecResult} */ raw) => {
        const result = new ExecResult(raw);
        if (result.code !== 0) throw result;
        return result;
      });
    }

    /**
     * Starts a streaming command.
     * @param {{cmd: string}} params exec.spawn params
     * @param {StreamSink} sink
     * @param {boolean} splitLines
     * @returns {ExecProcess} at once, before the daemon answers
     */
    function spawn(params, sink, splitLines) {
      const kill = (/** @type {string} */ id) => {
        // The process may have ended on its own meanwhile (UnknownStream): nothing to do.
        rpc.call("exec.kill", { stream: id }).catch(() => undefined);
      };
      const stream = new ExecStream(params.cmd, sink, splitLines, kill);
      const viaAnswer = answersReadable && answersReading < ANSWER_STREAMS_MAX;
      if (viaAnswer) answersReading++;
      const output = viaAnswer ? "http" : "notifications";
      rpc.call("exec.spawn", { ...params, output }).then((result) => {
        if (!result || typeof result.stream !== "string") {
          throw new Error("ddbridge: exec.spawn answered without a stream id");
        }
        const id = result.stream;
        streams.add(id, stream);
        // A daemon (or a mock) that sends notifications answers without `output`.
        if (!viaAnswer || typeof result.output !== "string") return;
        const url = new URL(result.output, rpcHttpUrl);
        const headers = rpc.credential ? { Authorization: `Bearer ${rpc.credential}` } : undefined;
        return fetch(url.href, { headers, cache: "no-store" })
          .then((response) => readAnswer(response, stream, streams))
          .catch((error) => {
            if (stream.finished) return;
            kill(id);
            const message = `ddbridge: ${String((error && error.message) || error)}`;
            streams.dispatch("exec.error", { stream: id, message });
          });
      }).catch((error) => stream.fail(error)).finally(() => {
        if (viaAnswer) answersReading--;
      });
      return { close: () => stream.close() };
    }

    /**
     * The v1 `exec(cmd, args, options?)` for one target: runs to completion, or streams when
     * `options.stream` is given.
     * @param {string} target
     * @returns {Exec}
     */
    function execFor(target) {
      /**
       * @param {string} cmd
       * @param {string[]} args
       * @param {ExecOptions | SpawnOptions} [options]
       */
      function exec(cmd, args, options) {
        const params = execParams(target, cmd, args, options);
        if (options && "stream" in options && options.stream) {
          return spawn(params, v1Sink(options.stream), Boolean(options.stream.splitOutputLines));
        }
        return run(params);
      }
      return /** @type {Exec} */ (exec);
    }

    /**
     * A v0 `spawn*(cmd, args, callback)` for one target.
     * @param {string} target
     */
    function spawnFor(target) {
      /**
       * @param {string} cmd
       * @param {string[]} args
       * @param {(data: any, error: any) => void} callback
       */
      return (cmd, args, callback) => {
        spawn(execParams(target, cmd, args, undefined), v0Sink(callback), false);
      };
    }

    /**
     * v0 runs a shell command line through `sh -c` in a container.
     * @param {string} target
     * @param {string} commandLine
     */
    function runShell(target, commandLine) {
      return run(execParams(target, "sh", ["-c", commandLine], undefined));
    }

    /** @returns {HttpService} the backend HTTP service, shared by v0 `backend` and v1 */
    function httpService() {
      /** @param {{method: string, url: string, headers?: Record<string, string>, data?: any}} config */
      const request = (config) => rpc.call("service.request", {
        method: config.method, url: config.url, headers: config.headers, data: config.data,
      });
      return {
        get: (url) => request({ method: "GET", url }),
        post: (url, data) => request({ method: "POST", url, data }),
        put: (url, data) => request({ method: "PUT", url, data }),
        patch: (url, data) => request({ method: "PATCH", url, data }),
        delete: (url) => request({ method: "DELETE", url }),
        head: (url) => request({ method: "HEAD", url }),
        request,
      };
    }

    /**
     * The daemon checks that the target exists (else the call rejects, as in Docker Desktop)
     * and answers the URL of its page standing in for Docker Desktop's; it opens in a new tab.
     * @param {string} target a desktop.navigate target
     * @param {{id?: string, tag?: string}} [where]
     * @returns {Promise<void>}
     */
    function navigate(target, where) {
      return rpc.call("desktop.navigate", { target, ...where }).then((result) => {
        const url = result && result.url;
        // Only the bridge's own pages: a same-origin path, never another scheme.
        if (typeof url === "string" && url.startsWith("/_ddbridge/")) window.open(url, "_blank", "noopener");
      });
    }

    /**
     * v0 navigations that return nothing: failures are logged, never unhandled.
     * @param {Promise<void>} navigation
     */
    function detach(navigation) {
      navigation.catch((error) => console.warn("ddbridge: navigation failed:", error));
    }

    /**
     * Shows the toast in the page and tells the daemon.
     * @param {ToastLevel} level
     * @param {string} message
     */
    function toast(level, message) {
      toasts.show(level, String(message));
      callAndLog("desktop.toast", { level, message: String(message) });
    }

    /**
     * Opens an http(s) URL in a new tab; the daemon logs it.
     * @param {string} url
     */
    function openExternal(url) {
      let parsed;
      try {
        parsed = new URL(url);
      } catch {
        parsed = null;
      }
      if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
        throw new Error(`ddbridge: openExternal(${JSON.stringify(url)}) refused: `
          + "only absolute http: and https: URLs can be opened");
      }
      callAndLog("host.openExternal", { url: parsed.href });
      window.open(parsed.href, "_blank", "noopener");
    }

    /** Dialogs are shown one at a time, in the order they were asked for. */
    let dialogTurn = Promise.resolve();

    /**
     * The daemon answers from its script, or tells the shim to draw the dialog (in which
     * roots, starting where); the dialog then lists folders and checks the choice through it.
     * @param {any} props Electron's OpenDialogOptions
     * @returns {Promise<OpenDialogAnswer>}
     */
    function showOpenDialog(props) {
      const given = props && typeof props === "object" ? props : {};
      return rpc.call("desktop.openDialog", { props: given }).then((answer) => {
        if (!answer || answer.interactive !== true) return answer;
        /** @type {DialogCalls} */
        const calls = {
          list: (path, showHidden) => rpc.call("desktop.listDirectory", { path, showHidden }),
          resolve: (filePaths) => rpc.call("desktop.resolveDialog", { props: given, filePaths }),
        };
        const shown = dialogTurn.then(() =>
          new OpenDialogView(document, dialogOptions(given), answer.roots, calls).open(answer.start));
        dialogTurn = shown.then(() => undefined, () => undefined);
        return shown;
      });
    }

    /** @param {any} [options] Engine API query options */
    const listContainers = (options) =>
      rpc.call("docker.listContainers", { options: options || {} });
    /** @param {any} [options] Engine API query options */
    const listImages = (options) => rpc.call("docker.listImages", { options: options || {} });

    const service = httpService();
    const dockerExec = execFor("docker");

    return {
      // v1
      extension: {
        id: config.extension.id,
        image: config.extension.image,
        vm: { cli: { exec: execFor("vm") }, service },
        host: { cli: { exec: execFor("host") } },
      },
      desktopUI: {
        toast: {
          success: (message) => toast("success", message),
          warning: (message) => toast("warning", message),
          error: (message) => toast("error", message),
        },
        dialog: {
          showOpenDialog,
        },
        navigate: {
          viewContainers: () => navigate("containers"),
          viewContainer: (id) => navigate("container", { id }),
          viewContainerLogs: (id) => navigate("containerLogs", { id }),
          viewContainerInspect: (id) => navigate("containerInspect", { id }),
          viewContainerTerminal: (id) => navigate("containerTerminal", { id }),
          viewContainerStats: (id) => navigate("containerStats", { id }),
          viewImages: () => navigate("images"),
          viewImage: (id, tag) => navigate("image", { id, tag }),
          viewVolumes: () => navigate("volumes"),
          viewVolume: (volume) => navigate("volume", { id: volume }),
        },
      },
      host: {
        platform: config.host.platform,
        arch: config.host.arch,
        hostname: config.host.hostname,
        openExternal,
      },
      docker: { cli: { exec: dockerExec }, listContainers, listImages },

      // v0
      backend: {
        ...service,
        execInContainer: (container, cmd) => runShell(`container:${container}`, cmd),
        execInVMExtension: (cmd) => runShell("vm", cmd),
        spawnInVMExtension: spawnFor("vm"),
      },
      toastSuccess: (message) => toast("success", message),
      toastWarning: (message) => toast("warning", message),
      toastError: (message) => toast("error", message),
      listContainers,
      listImages,
      // v0 takes one command line: split on whitespace into the binary and its arguments
      // (no shell, no quoting), as Docker Desktop does.
      execHostCmd: (commandLine) => {
        const [cmd, ...args] = commandLine.trim().split(/\s+/);
        return run(execParams("host", cmd, args, undefined));
      },
      spawnHostCmd: spawnFor("host"),
      execDockerCmd: (cmd, ...args) => dockerExec(cmd, args),
      spawnDockerCmd: spawnFor("docker"),
      navigateToContainers: () => detach(navigate("containers")),
      navigateToContainer: (id) => navigate("container", { id }),
      navigateToContainerLogs: (id) => navigate("containerLogs", { id }),
      navigateToContainerInspect: (id) => navigate("containerInspect", { id }),
      navigateToContainerStats: (id) => navigate("containerStats", { id }),
      navigateToImages: () => detach(navigate("images")),
      navigateToImage: (id, tag) => navigate("image", { id, tag }),
      navigateToVolumes: () => detach(navigate("volumes")),
      navigateToVolume: (volume) => detach(navigate("volume", { id: volume })),
      openExternal,
    };
  }

  // ---------------------------------------------------------------------------------------
  // MUI themes for @docker/docker-mui-theme
  //
  // Docker's theme package reads `window.__ddMuiV5Themes[light|dark]` (V6 alike) and passes the
  // entry to MUI's createTheme as is, so each entry is plain ThemeOptions. The values are those of
  // Docker's published theme (@docker/docker-mui-theme 0.0.4, dist/themes.js and dist/colors.js),
  // resolved to literals: object literals cost nothing at load, and this runs before every bundle.

  /**
   * @typedef {Pick<Color, 100 | 200 | 300 | 400 | 500 | 600 | 700 | 800>} DockerShades
   * @typedef {"amber" | "blue" | "green" | "grey" | "red" | "violet"} DockerColor
   * @typedef {Record<DockerColor, DockerShades>} DockerPalette
   * @typedef {ThemeOptions & {palette: {docker: DockerPalette}}} DockerThemeOptions
   */

  /**
   * `theme.palette.docker`, which the theme package's types declare: colour ramps, lightest (100)
   * to darkest (800). Docker Desktop injects its own; no published package has its values, so
   * these ramps are ddbridge's.
   * @returns {DockerPalette}
   */
  function dockerPalette() {
    return {
      amber: { 100: "#fff4dc", 200: "#ffe4a8", 300: "#ffcf6e", 400: "#ffb938", 500: "#f5a10c", 600: "#c98307", 700: "#9a6405", 800: "#6e4703" },
      blue: { 100: "#e5eeff", 200: "#bfd3fd", 300: "#8fb2fb", 400: "#4b8bf5", 500: "#1d63ed", 600: "#1550c7", 700: "#0f3e9c", 800: "#0a2b70" },
      green: { 100: "#e3f6e8", 200: "#bde9c8", 300: "#8cd9a2", 400: "#56c57a", 500: "#2ea55a", 600: "#1e7b34", 700: "#17612a", 800: "#10461e" },
      grey: { 100: "#f4f4f6", 200: "#e1e2e6", 300: "#c4c8d1", 400: "#8993a5", 500: "#677285", 600: "#505968", 700: "#3b404a", 800: "#2e3035" },
      red: { 100: "#fde7e7", 200: "#f9c2c2", 300: "#f39494", 400: "#ea6262", 500: "#d93c3c", 600: "#c62828", 700: "#9c1f1f", 800: "#701616" },
      violet: { 100: "#f0e8ff", 200: "#d9c6fe", 300: "#bd9dfc", 400: "#9f72f8", 500: "#7d4cf0", 600: "#6336cc", 700: "#4b28a0", 800: "#341c70" },
    };
  }

  /**
   * Docker Desktop's ThemeOptions for one mode. Both modes share the primary and secondary colours
   * and the type scale (a 12 px base: MUI's variants at 12/14 of their size, body1 14 px,
   * subtitle1 16 px, subtitle2 22 px semi-bold); backgrounds, text, inputs, menus and tooltips
   * differ. Docker's source still names some things as MUI v4 did, which v5 ignores; they are
   * written here as v5 names them, so that they apply as they did there: `&$state` selectors as
   * `&.Mui-state`, the dialog's `paperScrollPaper` as `paper`, the table row's `hover` as the
   * `.MuiTableRow-hover` row, and the label's `shrink` for standard fields only (v4's filled and
   * outlined labels had their own, more specific, shrink rule). The icon button's hover
   * `backgroundColor: 'none'` is not a CSS colour (browsers drop it) and is left out.
   * @param {"light" | "dark"} mode
   * @returns {DockerThemeOptions}
   */
  function muiTheme(mode) {
    const dark = mode === "dark";
    const primary = "#007BFF";
    const secondary = "#E12B0C";
    const hoverTransparent = {
      "&:hover": { backgroundColor: "transparent" },
      "&.Mui-checked:hover": { backgroundColor: "transparent" },
    };
    return {
      palette: {
        mode,
        primary: { light: "#6BC3F3", main: primary, dark: "#096BD4" },
        secondary: { main: secondary, dark: "#871907" },
        action: { hover: "rgba(107, 195, 243, 0.4)", selected: "rgba(107, 195, 243, 0.25)" },
        background: dark ? { default: "#202C33", paper: "#202C33" } : { default: "#F4F4F6", paper: "#F4F4F6" },
        text: dark
          ? { primary: "#FFF", secondary: "#70787D", disabled: "#B7BBBE" }
          : { secondary: "#70787D", disabled: "#B7BBBE" },
        docker: dockerPalette(),
      },
      shape: { borderRadius: 4 },
      spacing: 8,
      typography: {
        fontFamily: '"Open SansVariable", "Helvetica Neue", sans-serif',
        fontSize: 12,
        subtitle1: { fontSize: 16 },
        body1: { fontSize: 14 },
        subtitle2: { fontSize: 22, fontWeight: 600 },
      },
      components: {
        MuiAppBar: { styleOverrides: { colorPrimary: { backgroundColor: "#27343B" } } },
        MuiButtonBase: { defaultProps: { disableRipple: true } },
        MuiButton: {
          styleOverrides: {
            root: { textTransform: "initial", fontWeight: 600 },
            contained: { boxShadow: "none", "&:hover, &:focus": { boxShadow: "none" } },
            outlinedPrimary: { color: primary, border: `1px solid ${primary}` },
            outlinedSecondary: { color: secondary, border: `1px solid ${secondary}` },
          },
        },
        MuiIconButton: { styleOverrides: { root: { transition: "color 0.3s ease-out" } } },
        MuiCheckbox: {
          defaultProps: { disableRipple: true },
          styleOverrides: { root: { paddingTop: 4, paddingBottom: 4 }, colorPrimary: hoverTransparent },
        },
        MuiRadio: { styleOverrides: { root: { paddingTop: 4, paddingBottom: 4 } } },
        MuiSwitch: { styleOverrides: { colorPrimary: hoverTransparent } },
        MuiChip: {
          styleOverrides: {
            labelSmall: { paddingLeft: 4, paddingRight: 4 },
            sizeSmall: { height: 14, fontSize: 8, borderRadius: 4, textTransform: "uppercase" },
          },
        },
        MuiFormLabel: {
          styleOverrides: dark
            ? { root: { color: "#B7BBBE", "&.Mui-disabled": { color: "#70787D" }, "&.Mui-focused": { color: primary } } }
            : {},
        },
        MuiInputLabel: {
          styleOverrides: { standard: { "&.MuiInputLabel-shrink": { transform: "translate(0, 1.6px) scale(0.86)" } } },
        },
        MuiInput: {
          styleOverrides: {
            input: { "&:focus": { backgroundColor: dark ? "rgba(255, 255, 255, 0.1)" : "rgba(0, 0, 0, 0.03)" } },
            underline: { "&:after": { borderBottomColor: primary } },
          },
        },
        MuiFilledInput: {
          styleOverrides: {
            root: {
              borderRadius: "0 !important",
              backgroundColor: dark ? "rgba(255, 255, 255, 0.09)" : "#ECECEC",
              "&:focus, &:hover": { backgroundColor: dark ? "rgba(255, 255, 255, 0.13)" : "#E4E4E4" },
            },
            underline: { "&:after": { borderBottomColor: primary } },
          },
        },
        MuiOutlinedInput: {
          styleOverrides: {
            notchedOutline: {
              borderColor: dark ? "#555D61 !important" : "rgba(0, 0, 0, 0.23) !important",
              borderWidth: "1px !important",
            },
            root: {
              "&.Mui-disabled": {
                backgroundColor: dark ? "#2C373E" : "#EFEFEF",
                borderRadius: "4px",
                color: "rgba(112, 120, 125, 0.5)",
              },
            },
          },
        },
        MuiPaper: { styleOverrides: { root: { borderRadius: "0 !important" } } },
        MuiDialog: { styleOverrides: { paper: dark ? {} : { backgroundColor: "#FFFFFF" } } },
        MuiList: { styleOverrides: { root: { paddingTop: "0 !important", paddingBottom: "0 !important" } } },
        MuiListItem: {
          styleOverrides: {
            root: { paddingTop: 6, paddingBottom: 6, "&.Mui-selected": { backgroundColor: "rgba(107, 195, 243, 0.2)" } },
            button: { "&:hover": { backgroundColor: "rgba(107, 195, 243, 0.1)" } },
          },
        },
        MuiListItemIcon: { styleOverrides: { root: { minWidth: 36 } } },
        MuiMenu: { styleOverrides: { paper: { background: dark ? "#303E46" : "#FAFAFB", boxShadow: "none" } } },
        MuiMenuItem: {
          styleOverrides: {
            root: {
              minHeight: "auto",
              "&:focus": { "& .MuiListItemIcon-root, & .MuiListItemText-primary": { color: "white" } },
            },
            gutters: { fontSize: 14 },
          },
        },
        MuiTableRow: { styleOverrides: { root: { "&.MuiTableRow-hover": { backgroundColor: "transparent !important" } } } },
        MuiTooltip: {
          styleOverrides: {
            tooltip: {
              fontSize: "10px",
              lineHeight: "13px",
              letterSpacing: "1px",
              textTransform: "uppercase",
              color: "white",
              backgroundColor: dark ? "#5C6972" : "#2F3B43",
            },
          },
        },
      },
    };
  }

  /** @returns {{light: DockerThemeOptions, dark: DockerThemeOptions}} */
  function muiThemes() {
    return { light: muiTheme("light"), dark: muiTheme("dark") };
  }

  // ---------------------------------------------------------------------------------------
  // Installation

  const config = readConfig(window.__ddbridge);
  const script = document.currentScript;
  const scriptSrc = script && "src" in script && script.src ? String(script.src) : undefined;
  const streams = new StreamRegistry();
  const rpc = new RpcConnection(rpcUrl(config.rpcPath, scriptSrc), {
    credential: credentialSource(scriptSrc, config.shells),
    onNotification: (method, params) => {
      if (method === "exec.output" || method === "exec.exit" || method === "exec.error") {
        streams.dispatch(method, params);
      } else {
        console.warn("ddbridge: ignoring an unknown notification:", method);
      }
    },
    onDisconnect: () => streams.disconnected(),
  });

  window.ddClient = createClient(config, rpc, streams, new ToastView(document));
  if (!window.__ddMuiV5Themes) window.__ddMuiV5Themes = muiThemes();
  if (!window.__ddMuiV6Themes) window.__ddMuiV6Themes = muiThemes();
})();
