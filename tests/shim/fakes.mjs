// Test doubles for running bridge/static/ddclient.js in a node:vm context: a WebSocket whose
// server side the test drives, a manual clock, a tiny DOM and a console that records.
import { readFileSync } from "node:fs";
import vm from "node:vm";

const SHIM_PATH = new URL("../../bridge/static/ddclient.js", import.meta.url);
const SHIM_SOURCE = readFileSync(SHIM_PATH, "utf8");

export const DEFAULT_BOOTSTRAP = {
  version: "0.1.0",
  rpcPath: "/rpc",
  host: { platform: "linux", arch: "x64", hostname: "box" },
  extension: { id: "ext-id", image: "acme/ext:1.0", title: "Ext" },
};

/** Lets pending promise callbacks (of either realm) run. */
export function settle() {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Turns an object from the vm realm into a plain one of this realm, for deepStrictEqual. */
export function plain(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

/** Timers that only fire when the test advances time. */
export class FakeClock {
  constructor() {
    this.now = 0;
    this.nextId = 1;
    this.timers = new Map();
  }

  setTimeout = (callback, delay = 0) => {
    const id = this.nextId++;
    this.timers.set(id, { at: this.now + delay, delay, callback });
    return id;
  };

  clearTimeout = (id) => {
    this.timers.delete(id);
  };

  /** Delays of the timers still waiting, in creation order. */
  pendingDelays() {
    return [...this.timers.values()].map((timer) => timer.delay);
  }

  advance(ms) {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.timers.entries()]
        .filter(([, timer]) => timer.at <= until)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      const [id, timer] = due;
      this.timers.delete(id);
      this.now = timer.at;
      timer.callback();
    }
    this.now = until;
  }
}

/** Plays the daemon: every WebSocket the shim opens is recorded here. */
export class FakeServer {
  constructor() {
    this.sockets = [];
    const server = this;
    this.WebSocket = class FakeWebSocket {
      static CONNECTING = 0;
      static OPEN = 1;
      static CLOSING = 2;
      static CLOSED = 3;

      constructor(url, protocols = []) {
        this.url = url;
        this.protocols = protocols;
        this.readyState = FakeWebSocket.CONNECTING;
        this.sent = [];
        this.onopen = null;
        this.onmessage = null;
        this.onclose = null;
        server.sockets.push(this);
      }

      send(frame) {
        if (this.readyState !== FakeWebSocket.OPEN) throw new Error("send() on a socket that is not open");
        if (typeof frame !== "string") throw new Error("the shim must send text frames");
        this.sent.push(JSON.parse(frame));
      }

      close() {
        this.drop(1000);
      }

      // --- server side ---

      accept() {
        this.readyState = FakeWebSocket.OPEN;
        this.onopen?.({});
      }

      /** The connection attempt fails (the browser fires error, then close). */
      refuse() {
        this.drop(1006);
      }

      drop(code = 1006, reason = "") {
        this.readyState = FakeWebSocket.CLOSED;
        this.onclose?.({ code, reason });
      }

      push(message) {
        this.onmessage?.({ data: typeof message === "string" ? message : JSON.stringify(message) });
      }

      /** Requests sent so far that the test has not taken yet. */
      take() {
        return this.sent.splice(0);
      }

      /** The one request sent since the last take(). */
      takeOne() {
        const requests = this.take();
        if (requests.length !== 1) throw new Error(`expected one request, got ${JSON.stringify(requests)}`);
        return requests[0];
      }

      reply(request, result) {
        this.push({ jsonrpc: "2.0", id: request.id, result });
      }

      fail(request, error) {
        this.push({ jsonrpc: "2.0", id: request.id, error });
      }

      notify(method, params) {
        this.push({ jsonrpc: "2.0", method, params });
      }
    };
  }

  get last() {
    return this.sockets[this.sockets.length - 1];
  }

  /** The latest socket, accepted. */
  open() {
    const socket = this.last;
    if (!socket) throw new Error("the shim has not opened a socket");
    socket.accept();
    return socket;
  }
}

class FakeElement {
  constructor(tagName) {
    this.tagName = tagName.toUpperCase();
    this.attributes = new Map();
    this.children = [];
    this.parent = null;
    this.isRoot = false;
    this.style = { cssText: "" };
    this.textContent = "";
    this.listeners = new Map();
  }

  get isConnected() {
    return this.isRoot || (this.parent !== null && this.parent.isConnected);
  }

  setAttribute(name, value) {
    this.attributes.set(name, String(value));
  }

  getAttribute(name) {
    return this.attributes.has(name) ? this.attributes.get(name) : null;
  }

  appendChild(child) {
    child.remove();
    child.parent = this;
    this.children.push(child);
    return child;
  }

  remove() {
    if (!this.parent) return;
    this.parent.children.splice(this.parent.children.indexOf(this), 1);
    this.parent = null;
  }

  addEventListener(type, listener) {
    this.listeners.set(type, [...(this.listeners.get(type) || []), listener]);
  }

  click() {
    for (const listener of this.listeners.get("click") || []) listener({});
  }

  /** Every descendant matching the predicate, depth first. */
  findAll(predicate) {
    return this.children.flatMap((child) => [
      ...(predicate(child) ? [child] : []),
      ...child.findAll(predicate),
    ]);
  }
}

/** A document that is still parsing <head> until finishParsing(). */
export class FakeDocument {
  constructor() {
    this.body = null;
    this.documentElement = new FakeElement("html");
    this.documentElement.isRoot = true;
    this.listeners = [];
  }

  createElement(tagName) {
    return new FakeElement(tagName);
  }

  addEventListener(type, listener, options) {
    this.listeners.push({ type, listener, once: Boolean(options && options.once) });
  }

  finishParsing() {
    this.body = new FakeElement("body");
    this.body.isRoot = true;
    const listeners = this.listeners.filter((entry) => entry.type === "DOMContentLoaded");
    this.listeners = this.listeners.filter((entry) => entry.type !== "DOMContentLoaded" || !entry.once);
    for (const { listener } of listeners) listener({});
  }

  toasts() {
    return this.body ? this.body.findAll((element) => element.getAttribute("data-ddbridge-toast") !== null) : [];
  }
}

/** A console that records what the shim logs instead of printing it. */
export class RecordingConsole {
  constructor() {
    this.records = [];
    for (const level of ["log", "info", "debug", "warn", "error"]) {
      this[level] = (...args) => this.records.push({ level, args });
    }
  }

  messages(level) {
    return this.records.filter((record) => record.level === level).map((record) => record.args.map(String).join(" "));
  }
}

/**
 * Runs the shim the way a page does: the daemon's bootstrap line, then the file.
 * @param {{bootstrap?: object | null, protocol?: string, predefined?: object, scriptSrc?: string,
 *   storage?: Record<string, string>}} [options]
 *   bootstrap null leaves window.__ddbridge undefined; predefined adds window properties first;
 *   scriptSrc is where the page loaded the shim from (document.currentScript.src); storage is
 *   the page origin's localStorage.
 */
export function loadShim({
  bootstrap = DEFAULT_BOOTSTRAP, protocol = "http:", predefined = {}, scriptSrc, storage = {},
} = {}) {
  const server = new FakeServer();
  const clock = new FakeClock();
  const document = new FakeDocument();
  document.currentScript = scriptSrc === undefined ? null : { src: scriptSrc };
  const console = new RecordingConsole();
  const opened = [];
  /** @type {Map<string, Function[]>} */
  const windowListeners = new Map();
  const window = {
    console,
    document,
    location: { protocol, host: "127.0.0.1:8765", href: `${protocol}//127.0.0.1:8765/page/` },
    WebSocket: server.WebSocket,
    URL,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    open: (...args) => {
      opened.push(args);
      return null;
    },
    localStorage: {
      getItem: (key) => (Object.hasOwn(storage, key) ? storage[key] : null),
      setItem: (key, value) => { storage[key] = String(value); },
    },
    addEventListener: (type, listener) => {
      windowListeners.set(type, [...(windowListeners.get(type) || []), listener]);
    },
    removeEventListener: (type, listener) => {
      windowListeners.set(type, (windowListeners.get(type) || []).filter((entry) => entry !== listener));
    },
    /** A message event, as a frame's postMessage delivers it to this window. */
    deliverMessage: (event) => {
      for (const listener of windowListeners.get("message") || []) listener(event);
    },
    ...predefined,
  };
  window.window = window;
  const context = vm.createContext(window);
  const globalsBefore = new Set(Object.keys(window));
  const prefix = bootstrap === null ? "" : `window.__ddbridge = ${JSON.stringify(bootstrap)};\n`;
  vm.runInContext(prefix + SHIM_SOURCE, context, { filename: "ddclient.js" });
  const addedGlobals = Object.keys(window).filter((key) => !globalsBefore.has(key));
  return {
    window,
    client: window.ddClient,
    server,
    clock,
    document,
    console,
    opened,
    addedGlobals,
    /** The vm realm's Error, for instanceof checks. */
    RealmError: vm.runInContext("Error", context),
  };
}

/** Loads the shim and accepts its first connection once a call opens it. */
export function connectedShim(options) {
  const shim = loadShim(options);
  return {
    ...shim,
    /** Makes a call, opens the socket if it is the first, returns [promise, request]. */
    call(fn) {
      const promise = fn(shim.client);
      const socket = shim.server.last;
      if (socket.readyState === 0) socket.accept();
      return [promise, socket.takeOne()];
    },
  };
}
