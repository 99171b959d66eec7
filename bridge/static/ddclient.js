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
  const RECONNECT_FIRST_DELAY_MS = 250;
  const RECONNECT_MAX_DELAY_MS = 5000;
  const TOAST_DURATION_MS = 5000;

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
   * @param {string} path
   * @returns {string} the WebSocket URL of `path` on the page's own origin
   */
  function rpcUrl(path) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}${path}`;
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
     * @param {(method: string, params: any) => void} hooks.onNotification
     * @param {() => void} hooks.onDisconnect called after the socket closed
     */
    constructor(url, hooks) {
      this.url = url;
      this.hooks = hooks;
      /** @type {WebSocket | null} */
      this.socket = null;
      this.nextId = 1;
      /** @type {Map<number, PendingCall>} */
      this.pending = new Map();
      /** @type {{id: number, frame: string}[]} requests not sent yet */
      this.outbox = [];
      this.retryDelay = RECONNECT_FIRST_DELAY_MS;
      /** @type {ReturnType<typeof setTimeout> | null} */
      this.retryTimer = null;
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
      if (this.socket || this.retryTimer !== null) return;
      let socket;
      try {
        socket = new WebSocket(this.url);
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
      socket.onclose = (event) => this.handleClose(socket, opened, event.code);
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
     */
    handleClose(socket, opened, code) {
      if (this.socket !== socket) return;
      this.socket = null;
      if (opened) console.warn(`ddbridge: connection to the daemon closed (code ${code})`);
      for (const [id, call] of this.pending) {
        if (!call.sent) continue;
        this.pending.delete(id);
        call.reject(new Error(
          `ddbridge: connection to the daemon was lost before ${call.method} answered`));
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
      rpc.call("exec.spawn", params).then((result) => {
        if (result && typeof result.stream === "string") streams.add(result.stream, stream);
        else stream.fail(new Error("ddbridge: exec.spawn answered without a stream id"));
      }, (error) => stream.fail(error));
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
          showOpenDialog: (props) => rpc.call("desktop.openDialog", { props }),
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

  /**
   * @typedef {Pick<Color, 100 | 200 | 300 | 400 | 500 | 600 | 700 | 800>} DockerShades
   * @typedef {"amber" | "blue" | "green" | "grey" | "red" | "violet"} DockerColor
   * @typedef {Record<DockerColor, DockerShades>} DockerPalette
   * @typedef {ThemeOptions & {palette: {docker: DockerPalette}}} DockerThemeOptions
   */

  /** @returns {DockerPalette} Docker-like colour ramps, lightest (100) to darkest (800) */
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
   * MUI ThemeOptions close to Docker Desktop's look.
   * @param {"light" | "dark"} mode
   * @returns {DockerThemeOptions}
   */
  function muiTheme(mode) {
    const docker = dockerPalette();
    const dark = mode === "dark";
    return {
      palette: {
        mode,
        primary: { main: dark ? docker.blue[400] : docker.blue[500], contrastText: "#ffffff" },
        secondary: { main: dark ? docker.violet[400] : docker.violet[500] },
        success: { main: dark ? docker.green[400] : docker.green[600] },
        warning: { main: dark ? docker.amber[400] : docker.amber[500] },
        error: { main: dark ? docker.red[400] : docker.red[600] },
        background: dark
          ? { default: "#202124", paper: docker.grey[800] }
          : { default: "#ffffff", paper: docker.grey[100] },
        text: dark
          ? { primary: "#e8eaed", secondary: docker.grey[300] }
          : { primary: "#17191e", secondary: docker.grey[600] },
        divider: dark ? docker.grey[700] : docker.grey[200],
        docker,
      },
      shape: { borderRadius: 4 },
      typography: {
        fontFamily: "Roboto, system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif",
        button: { textTransform: "none", fontWeight: 500 },
      },
      components: {
        MuiButton: { defaultProps: { disableElevation: true } },
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
  const streams = new StreamRegistry();
  const rpc = new RpcConnection(rpcUrl(config.rpcPath), {
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
