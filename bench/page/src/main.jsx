// The browser benchmarks' page (bench/browser.py drives it in headless Chromium): the real
// @docker/extension-api-client on the bridge's shim, and two baselines on the same page — its
// own fetch() to nginx over TCP, and its own raw WebSocket to the daemon's /rpc. Everything is
// timed here, with performance.now() (5 µs: bench/browser.py loads the page cross-origin
// isolated; 100 µs otherwise), and returned in ms.
import { createDockerDesktopClient } from "@docker/extension-api-client";

const ddClient = createDockerDesktopClient();
// The shim's names for these (bridge/static/ddclient.js): the credential the login page put in
// this origin's storage, offered as a WebSocket subprotocol.
const CREDENTIAL_KEY = "ddbridge.credential";
const SUBPROTOCOLS = ["ddbridge", "ddbridge.credential." + (localStorage.getItem(CREDENTIAL_KEY) || "")];

/** The page's own JSON-RPC WebSocket: one socket, answers matched by id. */
function openRawSocket() {
  const url = new URL("/rpc", location.href);
  url.protocol = "ws:";
  const socket = new WebSocket(url.href, SUBPROTOCOLS);
  const waiting = new Map();
  let nextId = 1;
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    const settle = waiting.get(message.id);
    waiting.delete(message.id);
    if (message.error) settle.reject(new Error(message.error.message));
    else settle.resolve(message.result);
  };
  const call = (method, params) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, { resolve, reject });
      socket.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    });
  return new Promise((resolve, reject) => {
    socket.onopen = () => resolve(call);
    socket.onerror = () => reject(new Error("the raw WebSocket did not open"));
  });
}

let rawCall = null;

/** The calls the benchmark compares, by name. */
async function calls(fetchUrl) {
  rawCall = rawCall || (await openRawSocket());
  return {
    bridge: () => ddClient.extension.vm.service.get("/x"),
    fetch: () => fetch(fetchUrl).then((answer) => answer.json()),
    ws: () => rawCall("host.info", {}),
    // The bridge's own call without the shim: what the daemon's answer costs the page.
    wsService: () => rawCall("service.request", { method: "GET", url: "/x" }),
  };
}

/** Per-call latencies (ms) of `count` calls of `name`, one in flight. */
async function latencies(name, fetchUrl, count) {
  const call = (await calls(fetchUrl))[name];
  const out = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await call();
    out.push(performance.now() - started);
  }
  return out;
}

/** Calls/s of `name` with `inFlight` callers, each calling in a loop for `seconds`. */
async function rate(name, fetchUrl, inFlight, seconds) {
  const call = (await calls(fetchUrl))[name];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let done = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      await call();
      done++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return done / ((performance.now() - started) / 1000);
}

/**
 * A host binary's output streamed with splitOutputLines: ms from the call to onClose, the
 * characters of the lines received, and the worst lag of a 16 ms timer meanwhile (how long the
 * page could not run anything else).
 */
function stream(cmd, args) {
  return new Promise((resolve, reject) => {
    let chars = 0;
    let worstLag = 0;
    let expected = performance.now() + 16;
    const timer = setInterval(() => {
      const now = performance.now();
      worstLag = Math.max(worstLag, now - expected);
      expected = now + 16;
    }, 16);
    const started = performance.now();
    ddClient.extension.host.cli.exec(cmd, args, {
      stream: {
        splitOutputLines: true,
        onOutput(line) {
          chars += (line.stdout || line.stderr || "").length + 1;
        },
        onError(error) {
          clearInterval(timer);
          reject(new Error(String(error)));
        },
        onClose(code) {
          clearInterval(timer);
          const ms = performance.now() - started;
          if (code !== 0) reject(new Error(`${cmd} exited with ${code}`));
          else resolve({ ms, chars, worstLag });
        },
      },
    });
  });
}

window.bench = { latencies, rate, stream };
window.benchReady = true;
