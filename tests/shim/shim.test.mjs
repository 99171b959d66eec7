// Unit tests of bridge/static/ddclient.js against a fake daemon (see fakes.mjs).
// Run: node --test tests/shim/
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { DEFAULT_BOOTSTRAP, connectedShim, loadShim, plain, settle } from "./fakes.mjs";

const SERVICE_ERROR = -32001;

/** Records a v1 stream's callbacks in order. */
function recorder() {
  const events = [];
  return {
    events,
    options: {
      onOutput: (data) => events.push(["output", plain(data)]),
      onError: (error) => events.push(["error", error.message]),
      onClose: (code) => events.push(["close", code]),
    },
  };
}

/** Settles a promise into {value} or {error}, so rejections with non-Errors can be inspected. */
async function outcome(promise) {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

describe("surface", () => {
  const FUNCTIONS = [
    "backend.get", "backend.post", "backend.put", "backend.patch", "backend.delete", "backend.head",
    "backend.request", "backend.execInContainer", "backend.execInVMExtension",
    "backend.spawnInVMExtension",
    "toastSuccess", "toastWarning", "toastError", "listContainers", "listImages", "execHostCmd",
    "spawnHostCmd", "execDockerCmd", "spawnDockerCmd", "navigateToContainers",
    "navigateToContainer", "navigateToContainerLogs", "navigateToContainerInspect",
    "navigateToContainerStats", "navigateToImages", "navigateToImage", "navigateToVolumes",
    "navigateToVolume", "openExternal",
    "extension.vm.cli.exec", "extension.vm.service.get", "extension.vm.service.post",
    "extension.vm.service.put", "extension.vm.service.patch", "extension.vm.service.delete",
    "extension.vm.service.head", "extension.vm.service.request", "extension.host.cli.exec",
    "desktopUI.toast.success", "desktopUI.toast.warning", "desktopUI.toast.error",
    "desktopUI.dialog.showOpenDialog", "desktopUI.navigate.viewContainers",
    "desktopUI.navigate.viewContainer", "desktopUI.navigate.viewContainerLogs",
    "desktopUI.navigate.viewContainerInspect", "desktopUI.navigate.viewContainerTerminal",
    "desktopUI.navigate.viewContainerStats", "desktopUI.navigate.viewImages",
    "desktopUI.navigate.viewImage", "desktopUI.navigate.viewVolumes",
    "desktopUI.navigate.viewVolume", "host.openExternal", "docker.cli.exec",
    "docker.listContainers", "docker.listImages",
  ];
  const get = (object, path) => path.split(".").reduce((value, key) => value?.[key], object);

  test("every v0 and v1 member is a function", () => {
    const { client } = loadShim();
    for (const path of FUNCTIONS) assert.equal(typeof get(client, path), "function", path);
  });

  test("host and extension values come from window.__ddbridge", () => {
    const { client } = loadShim();
    assert.deepEqual(
      [client.host.platform, client.host.arch, client.host.hostname],
      ["linux", "x64", "box"]);
    assert.equal(client.extension.id, "ext-id");
    assert.equal(client.extension.image, "acme/ext:1.0");
  });

  test("without window.__ddbridge, defaults are used", () => {
    const { client, server } = loadShim({ bootstrap: null });
    assert.equal(client.host.platform, "");
    assert.equal(client.host.hostname, "");
    assert.equal(client.extension.image, "");
    client.listImages();
    assert.equal(server.last.url, "ws://127.0.0.1:8765/rpc");
  });

  test("only ddClient and the MUI theme globals are added", () => {
    const { addedGlobals } = loadShim();
    assert.deepEqual(addedGlobals.sort(),
      ["__ddMuiV5Themes", "__ddMuiV6Themes", "__ddbridge", "ddClient"]);
  });

  test("MUI themes have a mode and the docker palette", () => {
    const { window } = loadShim();
    for (const bag of [window.__ddMuiV5Themes, window.__ddMuiV6Themes]) {
      for (const mode of ["light", "dark"]) {
        const theme = bag[mode];
        assert.equal(theme.palette.mode, mode);
        assert.equal(theme.palette.primary.main, "#007BFF"); // Docker's marine50, both modes
        assert.equal(theme.shape.borderRadius, 4);
        for (const color of ["amber", "blue", "green", "grey", "red", "violet"]) {
          assert.deepEqual(Object.keys(theme.palette.docker[color]),
            ["100", "200", "300", "400", "500", "600", "700", "800"]);
        }
      }
    }
    assert.notEqual(window.__ddMuiV5Themes.light, window.__ddMuiV6Themes.light);
  });

  test("MUI themes already defined are kept", () => {
    const mine = { light: {}, dark: {} };
    const { window } = loadShim({ predefined: { __ddMuiV5Themes: mine } });
    assert.equal(window.__ddMuiV5Themes, mine);
    assert.equal(window.__ddMuiV6Themes.dark.palette.mode, "dark");
  });
});

describe("connection", () => {
  test("opens lazily, on the first call", () => {
    const { client, server } = loadShim();
    assert.equal(server.sockets.length, 0);
    client.listContainers();
    assert.equal(server.sockets.length, 1);
    assert.equal(server.last.url, "ws://127.0.0.1:8765/rpc");
    client.listImages();
    assert.equal(server.sockets.length, 1, "one WebSocket for every call");
  });

  test("uses wss: on https pages and the configured rpcPath", () => {
    const { client, server } = loadShim({
      protocol: "https:",
      bootstrap: { rpcPath: "/_ddbridge/rpc" },
    });
    client.listContainers();
    assert.equal(server.last.url, "wss://127.0.0.1:8765/_ddbridge/rpc");
  });

  test("the WebSocket carries the page credential of the origin's storage as a subprotocol", () => {
    const { client, server } = loadShim({ storage: { "ddbridge.credential": "s2.9.abc" } });
    client.listContainers();
    assert.equal(server.last.url, "ws://127.0.0.1:8765/rpc");
    assert.deepEqual([...server.last.protocols], ["ddbridge", "ddbridge.credential.s2.9.abc"]);
  });

  test("without a stored credential the WebSocket offers only the bridge's subprotocol", () => {
    const { client, server } = loadShim();
    client.listContainers();
    assert.deepEqual([...server.last.protocols], ["ddbridge"]);
  });

  test("a page on another origin gets the credential from the bridge's hand-off frame", async () => {
    const shim = loadShim({
      scriptSrc: "http://localhost:7700/ddclient.js",
      storage: { "ddbridge.credential": "the page origin's, not the bridge's" },
    });
    shim.client.listContainers();
    assert.equal(shim.server.sockets.length, 0, "no socket before the credential is known");
    const [frame] = shim.document.documentElement.findAll((element) => element.tagName === "IFRAME");
    assert.equal(frame.src, "http://localhost:7700/_ddbridge/credential");
    frame.contentWindow = {};
    const credential = { ddbridgeCredential: "s2.9.bridge" };
    shim.window.deliverMessage({ origin: "http://evil.example", source: frame.contentWindow, data: credential });
    shim.window.deliverMessage({ origin: "http://localhost:7700", source: {}, data: credential });
    await settle();
    assert.equal(shim.server.sockets.length, 0, "messages from anyone but the frame are ignored");
    shim.window.deliverMessage({ origin: "http://localhost:7700", source: frame.contentWindow, data: credential });
    await settle();
    assert.equal(shim.server.last.url, "ws://localhost:7700/rpc");
    assert.deepEqual([...shim.server.last.protocols], ["ddbridge", "ddbridge.credential.s2.9.bridge"]);
    assert.equal(frame.parent, null, "the frame is removed");
  });

  test("a page on another origin the bridge has no credential for connects without, and says why", async () => {
    const shim = loadShim({ scriptSrc: "http://localhost:7700/ddclient.js" });
    shim.client.listContainers();
    const [frame] = shim.document.documentElement.findAll((element) => element.tagName === "IFRAME");
    frame.contentWindow = {};
    shim.window.deliverMessage({
      origin: "http://localhost:7700", source: frame.contentWindow, data: { ddbridgeCredential: null },
    });
    await settle();
    assert.deepEqual([...shim.server.last.protocols], ["ddbridge"]);
    assert.ok(shim.console.messages("error").some((text) => /not signed in to http:\/\/localhost:7700/.test(text)));
  });

  test("a connection refused for its credential rejects every waiting call with the reason", async () => {
    const { client, server, console } = loadShim();
    const sent = client.listContainers();
    const waiting = client.docker.listImages();
    server.last.accept();
    server.last.take();
    server.last.drop(4401, "ddbridge: missing or wrong token");
    for (const call of [sent, waiting]) {
      await assert.rejects(call, /missing or wrong token \(code 4401\)/);
    }
    assert.ok(console.messages("error").some((text) => /refused this page/.test(text)));
  });

  test("calls made before the socket opens are sent in order once it does", async () => {
    const { client, server } = loadShim();
    const containers = client.listContainers({ all: true });
    const images = client.docker.listImages();
    const socket = server.last;
    assert.deepEqual(socket.sent, []);
    socket.accept();
    const [first, second] = socket.take();
    assert.deepEqual(first, {
      jsonrpc: "2.0", id: 1, method: "docker.listContainers", params: { options: { all: true } },
    });
    assert.deepEqual(second, {
      jsonrpc: "2.0", id: 2, method: "docker.listImages", params: { options: {} },
    });
    socket.reply(second, ["image"]);
    socket.reply(first, ["container"]);
    assert.deepEqual(plain(await containers), ["container"]);
    assert.deepEqual(plain(await images), ["image"]);
  });

  test("a call in flight when the connection drops rejects; queued calls wait for the next one",
    async () => {
      const { client, server, clock, console } = loadShim();
      const inFlight = client.listContainers();
      const socket = server.open();
      socket.take();
      socket.drop();
      await assert.rejects(inFlight, {
        message: "ddbridge: connection to the daemon was lost before docker.listContainers answered",
      });
      assert.equal(console.messages("warn").length, 1);
      assert.equal(server.sockets.length, 1, "nothing waiting: no reconnect yet");

      const later = client.listImages();
      assert.equal(server.sockets.length, 2, "the next call reconnects at once");
      server.last.refuse();
      assert.equal(server.sockets.length, 2);
      clock.advance(250);
      assert.equal(server.sockets.length, 3, "a failed attempt is retried after a backoff");
      const request = server.open().takeOne();
      assert.equal(request.method, "docker.listImages");
      server.last.reply(request, []);
      assert.deepEqual(plain(await later), []);
    });

  test("reconnect delays double up to 5 s, with jitter, and reset once connected", () => {
    const { client, server, clock } = loadShim();
    client.listImages().catch(() => undefined);
    const delays = [];
    for (let attempt = 0; attempt < 7; attempt++) {
      server.last.refuse();
      const [delay] = clock.pendingDelays();
      delays.push(delay);
      clock.advance(delay);
    }
    const caps = [250, 500, 1000, 2000, 4000, 5000, 5000];
    delays.forEach((delay, i) => {
      assert.ok(delay >= caps[i] / 2 && delay <= caps[i], `attempt ${i}: ${delay} ms`);
    });
    server.open();
    server.last.drop();
    client.listImages();
    server.last.refuse();
    assert.ok(clock.pendingDelays()[0] <= 250, "the backoff restarts after a success");
  });

  test("malformed and unexpected frames are ignored with a warning", async () => {
    const { client, server, console } = loadShim();
    const result = client.listImages();
    const socket = server.open();
    const request = socket.takeOne();
    socket.push("{not json");
    socket.push({ jsonrpc: "2.0", id: 999, result: 1 });
    socket.onmessage({ data: new ArrayBuffer(4) });
    socket.notify("desktop.somethingNew", {});
    assert.equal(console.messages("warn").length, 4);
    socket.reply(request, ["ok"]);
    assert.deepEqual(plain(await result), ["ok"]);
  });

  test("a batch frame is handled item by item", async () => {
    const { client, server } = loadShim();
    const a = client.listImages();
    const b = client.listContainers();
    const socket = server.open();
    const [first, second] = socket.take();
    socket.push([
      { jsonrpc: "2.0", id: first.id, result: "a" },
      { jsonrpc: "2.0", id: second.id, result: "b" },
    ]);
    assert.deepEqual([await a, await b], ["a", "b"]);
  });
});

describe("service", () => {
  test("verb helpers and request() map to service.request", async () => {
    const shim = connectedShim();
    const cases = [
      [(c) => c.extension.vm.service.get("/a"), { method: "GET", url: "/a" }],
      [(c) => c.extension.vm.service.post("/b", { x: 1 }), { method: "POST", url: "/b", data: { x: 1 } }],
      [(c) => c.backend.put("/c", "text"), { method: "PUT", url: "/c", data: "text" }],
      [(c) => c.backend.patch("/d", { y: 2 }), { method: "PATCH", url: "/d", data: { y: 2 } }],
      [(c) => c.backend.delete("/e"), { method: "DELETE", url: "/e" }],
      [(c) => c.extension.vm.service.head("/f"), { method: "HEAD", url: "/f" }],
      [
        (c) => c.backend.request({ method: "POST", url: "/g", headers: { "X-A": "1" }, data: [1] }),
        { method: "POST", url: "/g", headers: { "X-A": "1" }, data: [1] },
      ],
    ];
    for (const [call, params] of cases) {
      const [promise, request] = shim.call(call);
      assert.equal(request.method, "service.request");
      assert.deepEqual(request.params, params);
      shim.server.last.reply(request, { ok: params.url });
      assert.deepEqual(plain(await promise), { ok: params.url });
    }
  });

  test("-32001 rejects with a ServiceError", async () => {
    const shim = connectedShim();
    const [promise, request] = shim.call((c) => c.extension.vm.service.get("/missing"));
    shim.server.last.fail(request, {
      code: SERVICE_ERROR,
      message: "backend answered 404",
      data: { name: "Not Found", message: "no such thing", statusCode: 404 },
    });
    const { error } = await outcome(promise);
    assert.ok(error instanceof shim.RealmError);
    assert.equal(error.name, "Not Found");
    assert.equal(error.message, "no such thing");
    assert.equal(error.statusCode, 404);
  });

  test("other RPC errors reject with an Error carrying code and data", async () => {
    const shim = connectedShim();
    const [promise, request] = shim.call((c) => c.backend.get("/x"));
    shim.server.last.fail(request, { code: -32007, message: "no backend", data: { setting: "vm" } });
    const { error } = await outcome(promise);
    assert.ok(error instanceof shim.RealmError);
    assert.equal(error.message, "no backend");
    assert.equal(error.code, -32007);
    assert.deepEqual(plain(error.data), { setting: "vm" });
  });
});

describe("exec", () => {
  const OK = { cmd: "x", code: 0, signal: null, killed: false, stdout: "", stderr: "" };

  test("each form maps to exec.run with its target, cmd and args", async () => {
    const shim = connectedShim();
    const cases = [
      [(c) => c.extension.vm.cli.exec("ls", ["-l"]), { target: "vm", cmd: "ls", args: ["-l"] }],
      [
        (c) => c.extension.host.cli.exec("kubectl", ["get", "pods"], { cwd: "/tmp", env: { A: "1" } }),
        { target: "host", cmd: "kubectl", args: ["get", "pods"], cwd: "/tmp", env: { A: "1" } },
      ],
      [(c) => c.docker.cli.exec("ps", ["-a"]), { target: "docker", cmd: "ps", args: ["-a"] }],
      [(c) => c.execDockerCmd("image", "ls", "-q"), { target: "docker", cmd: "image", args: ["ls", "-q"] }],
      [(c) => c.execDockerCmd("info"), { target: "docker", cmd: "info", args: [] }],
      [(c) => c.execHostCmd("  tool  --flag   value "), { target: "host", cmd: "tool", args: ["--flag", "value"] }],
      [(c) => c.backend.execInVMExtension("ls -l | wc"), { target: "vm", cmd: "sh", args: ["-c", "ls -l | wc"] }],
      [
        (c) => c.backend.execInContainer("web", "cat /etc/hosts"),
        { target: "container:web", cmd: "sh", args: ["-c", "cat /etc/hosts"] },
      ],
    ];
    for (const [call, params] of cases) {
      const [promise, request] = shim.call(call);
      assert.equal(request.method, "exec.run");
      assert.deepEqual(request.params, params);
      shim.server.last.reply(request, OK);
      assert.equal((await promise).code, 0);
    }
  });

  test("exit code 0 resolves with the result and its parsing helpers", async () => {
    const shim = connectedShim();
    const [promise, request] = shim.call((c) => c.docker.cli.exec("ps", []));
    shim.server.last.reply(request, { ...OK, stdout: '{"a":1}\n\n  \n{"b":2}\n' });
    const result = await promise;
    assert.equal(result.stdout, '{"a":1}\n\n  \n{"b":2}\n');
    assert.deepEqual(plain(result.lines()), ['{"a":1}', "", "  ", '{"b":2}']);
    assert.deepEqual(plain(result.parseJsonLines()), [{ a: 1 }, { b: 2 }]);
    assert.deepEqual(Object.keys(result).sort(), ["cmd", "code", "killed", "signal", "stderr", "stdout"]);
  });

  test("lines() keeps a last line without newline and gives [] for no output", async () => {
    const shim = connectedShim();
    const [one, first] = shim.call((c) => c.docker.cli.exec("a", []));
    shim.server.last.reply(first, { ...OK, stdout: "x\ny" });
    assert.deepEqual(plain((await one).lines()), ["x", "y"]);
    const [two, second] = shim.call((c) => c.docker.cli.exec("b", []));
    shim.server.last.reply(second, OK);
    assert.deepEqual(plain((await two).lines()), []);
  });

  test("parseJsonObject parses the whole stdout", async () => {
    const shim = connectedShim();
    const [promise, request] = shim.call((c) => c.docker.cli.exec("inspect", ["x"]));
    shim.server.last.reply(request, { ...OK, stdout: '[\n {"Id": "x"}\n]\n' });
    assert.deepEqual(plain((await promise).parseJsonObject()), [{ Id: "x" }]);
  });

  test("a non-zero exit rejects with the result itself", async () => {
    const shim = connectedShim();
    const [promise, request] = shim.call((c) => c.extension.vm.cli.exec("false", []));
    shim.server.last.reply(request, { ...OK, code: 2, stdout: "out\n", stderr: "boom" });
    const { error } = await outcome(promise);
    assert.ok(!(error instanceof shim.RealmError));
    assert.equal(error.code, 2);
    assert.equal(error.stderr, "boom");
    assert.deepEqual(plain(error.lines()), ["out"]);
  });

  test("a process ended by a signal rejects too", async () => {
    const shim = connectedShim();
    const [promise, request] = shim.call((c) => c.extension.vm.cli.exec("sleep", ["9"]));
    shim.server.last.reply(request, { ...OK, code: null, signal: "SIGTERM", killed: true });
    const { error } = await outcome(promise);
    assert.equal(error.signal, "SIGTERM");
    assert.equal(error.killed, true);
  });

  test("an exec that cannot start rejects with the daemon's Error", async () => {
    const shim = connectedShim();
    const [promise, request] = shim.call((c) => c.extension.host.cli.exec("nope", []));
    shim.server.last.fail(request, {
      code: -32002, message: "host binary nope not found", data: { target: "host", cmd: "nope" },
    });
    await assert.rejects(promise, { message: "host binary nope not found", code: -32002 });
  });
});

describe("streams", () => {
  /** Starts a v1 stream and answers exec.spawn with `id`; returns the pieces. */
  function startStream(streamOptions = {}, id = "s1") {
    const shim = connectedShim();
    const { events, options } = recorder();
    const [process, request] = shim.call((c) => c.docker.cli.exec("logs", ["-f", "web"], {
      cwd: "/w", stream: { ...options, ...streamOptions },
    }));
    const socket = shim.server.last;
    socket.reply(request, { stream: id });
    return { shim, socket, events, process, request };
  }

  test("exec with stream returns {close} at once and sends exec.spawn", () => {
    const { process, request } = startStream();
    assert.equal(typeof process.close, "function");
    assert.ok(!("then" in process));
    assert.equal(request.method, "exec.spawn");
    assert.deepEqual(request.params, {
      target: "docker", cmd: "logs", args: ["-f", "web"], cwd: "/w", output: "notifications",
    });
  });

  test("raw output is passed through chunk by chunk, then onClose", async () => {
    const { socket, events } = startStream();
    await settle();
    socket.notify("exec.output", { stream: "s1", stdout: "a\nb" });
    socket.notify("exec.output", { stream: "s1", stderr: "warn" });
    socket.notify("exec.exit", { stream: "s1", code: 3, signal: null });
    assert.deepEqual(events, [
      ["output", { stdout: "a\nb" }],
      ["output", { stderr: "warn" }],
      ["close", 3],
    ]);
  });

  test("splitOutputLines splits each stream across chunks and flushes partial lines at exit",
    async () => {
      const { socket, events } = startStream({ splitOutputLines: true });
      await settle();
      const out = (params) => socket.notify("exec.output", { stream: "s1", ...params });
      out({ stdout: "one\ntw" });
      out({ stderr: "err" });
      out({ stdout: "o\n\nthr" });
      out({ stderr: "or 1\ner" });
      out({ stdout: "ee" });
      socket.notify("exec.exit", { stream: "s1", code: 0, signal: null });
      assert.deepEqual(events, [
        ["output", { stdout: "one" }],
        ["output", { stdout: "two" }],
        ["output", { stdout: "" }],
        ["output", { stderr: "error 1" }],
        ["output", { stdout: "three" }],
        ["output", { stderr: "er" }],
        ["close", 0],
      ]);
    });

  test("notifications that arrive before the spawn answer is handled are not lost", async () => {
    const shim = connectedShim();
    const { events, options } = recorder();
    const [, request] = shim.call((c) => c.extension.vm.cli.exec("seq", ["2"], { stream: options }));
    shim.server.last.push([
      { jsonrpc: "2.0", id: request.id, result: { stream: "s9" } },
      { jsonrpc: "2.0", method: "exec.output", params: { stream: "s9", stdout: "1\n2\n" } },
      { jsonrpc: "2.0", method: "exec.exit", params: { stream: "s9", code: 0, signal: null } },
    ]);
    await settle();
    assert.deepEqual(events, [["output", { stdout: "1\n2\n" }], ["close", 0]]);
  });

  test("close() after the stream id sends exec.kill once", async () => {
    const { socket, process, events } = startStream();
    await settle();
    process.close();
    process.close();
    const kill = socket.takeOne();
    assert.deepEqual([kill.method, kill.params], ["exec.kill", { stream: "s1" }]);
    socket.reply(kill, null);
    socket.notify("exec.exit", { stream: "s1", code: 143, signal: "SIGTERM" });
    process.close();
    assert.deepEqual(socket.take(), []);
    assert.deepEqual(events, [["close", 143]]);
  });

  test("close() before the stream id kills the stream once the id arrives", async () => {
    const shim = connectedShim();
    const [process, request] = shim.call((c) => c.extension.host.cli.exec("tail", ["-f"], {
      stream: {},
    }));
    process.close();
    process.close();
    const socket = shim.server.last;
    assert.deepEqual(socket.take(), []);
    socket.reply(request, { stream: "s2" });
    await settle();
    const kill = socket.takeOne();
    assert.deepEqual([kill.method, kill.params], ["exec.kill", { stream: "s2" }]);
    socket.fail(kill, { code: -32006, message: "unknown stream", data: { stream: "s2" } });
    await settle();
  });

  test("exec.error reaches onError; no onClose follows", async () => {
    const { socket, events } = startStream({ splitOutputLines: true });
    await settle();
    socket.notify("exec.output", { stream: "s1", stdout: "partial" });
    socket.notify("exec.error", { stream: "s1", message: "output limit exceeded" });
    assert.deepEqual(events, [["output", { stdout: "partial" }], ["error", "output limit exceeded"]]);
  });

  test("a failed exec.spawn reaches onError", async () => {
    const shim = connectedShim();
    const { events, options } = recorder();
    const [, request] = shim.call((c) => c.extension.vm.cli.exec("x", [], { stream: options }));
    shim.server.last.fail(request, { code: -32007, message: "no backend", data: {} });
    await settle();
    assert.deepEqual(events, [["error", "no backend"]]);
  });

  test("open streams get onError when the connection drops", async () => {
    const { socket, events, shim } = startStream();
    await settle();
    socket.notify("exec.output", { stream: "s1", stdout: "x" });
    socket.drop();
    assert.deepEqual(events, [
      ["output", { stdout: "x" }],
      ["error", "ddbridge: connection to the daemon was lost while logs was running"],
    ]);
    assert.equal(shim.server.sockets.length, 1);
  });

  test("a spawn in flight when the connection drops reaches onError", async () => {
    const shim = connectedShim();
    const { events, options } = recorder();
    shim.call((c) => c.extension.vm.cli.exec("x", [], { stream: options }));
    shim.server.last.drop();
    await settle();
    assert.deepEqual(events, [
      ["error", "ddbridge: connection to the daemon was lost before exec.spawn answered"],
    ]);
  });

  test("a callback that throws does not break the stream", async () => {
    const { shim, socket } = startStream({
      onOutput: () => {
        throw new Error("extension bug");
      },
    });
    await settle();
    socket.notify("exec.output", { stream: "s1", stdout: "x" });
    assert.equal(shim.console.messages("error").length, 1);
    const [promise, request] = shim.call((c) => c.listImages());
    socket.reply(request, []);
    assert.deepEqual(plain(await promise), []);
  });

  test("v0 spawn callbacks get chunks, then {code}; errors as the second argument", async () => {
    const shim = connectedShim();
    const calls = [];
    const callback = (data, error) => calls.push([plain(data), error && error.message]);
    const cases = [
      [(c) => c.spawnDockerCmd("events", ["--json"], callback), "docker", "events"],
      [(c) => c.spawnHostCmd("tool", ["watch"], callback), "host", "tool"],
      [(c) => c.backend.spawnInVMExtension("tail", ["-f", "/l"], callback), "vm", "tail"],
    ];
    for (const [i, [call, target, cmd]] of cases.entries()) {
      const [returned, request] = shim.call(call);
      assert.equal(returned, undefined);
      assert.equal(request.method, "exec.spawn");
      assert.equal(request.params.target, target);
      assert.equal(request.params.cmd, cmd);
      shim.server.last.reply(request, { stream: `v${i}` });
    }
    await settle();
    const socket = shim.server.last;
    socket.notify("exec.output", { stream: "v0", stdout: "a\nb" });
    socket.notify("exec.output", { stream: "v0", stderr: "e" });
    socket.notify("exec.exit", { stream: "v0", code: 0, signal: null });
    socket.notify("exec.error", { stream: "v1", message: "gone" });
    assert.deepEqual(calls, [
      [{ stdout: "a\nb" }, undefined],
      [{ stderr: "e" }, undefined],
      [{ code: 0 }, undefined],
      [undefined, "gone"],
    ]);
  });
});

describe("desktop", () => {
  test("navigation intents map to desktop.navigate", async () => {
    const shim = connectedShim();
    const cases = [
      [(c) => c.desktopUI.navigate.viewContainers(), { target: "containers" }],
      [(c) => c.desktopUI.navigate.viewContainer("c1"), { target: "container", id: "c1" }],
      [(c) => c.desktopUI.navigate.viewContainerLogs("c1"), { target: "containerLogs", id: "c1" }],
      [(c) => c.desktopUI.navigate.viewContainerInspect("c1"), { target: "containerInspect", id: "c1" }],
      [(c) => c.desktopUI.navigate.viewContainerTerminal("c1"), { target: "containerTerminal", id: "c1" }],
      [(c) => c.desktopUI.navigate.viewContainerStats("c1"), { target: "containerStats", id: "c1" }],
      [(c) => c.desktopUI.navigate.viewImages(), { target: "images" }],
      [(c) => c.desktopUI.navigate.viewImage("sha256:1", "latest"), { target: "image", id: "sha256:1", tag: "latest" }],
      [(c) => c.desktopUI.navigate.viewVolumes(), { target: "volumes" }],
      [(c) => c.desktopUI.navigate.viewVolume("data"), { target: "volume", id: "data" }],
      [(c) => c.navigateToContainer("c1"), { target: "container", id: "c1" }],
      [(c) => c.navigateToContainerLogs("c1"), { target: "containerLogs", id: "c1" }],
      [(c) => c.navigateToContainerInspect("c1"), { target: "containerInspect", id: "c1" }],
      [(c) => c.navigateToContainerStats("c1"), { target: "containerStats", id: "c1" }],
      [(c) => c.navigateToImage("sha256:1", "v1"), { target: "image", id: "sha256:1", tag: "v1" }],
    ];
    for (const [call, params] of cases) {
      const [promise, request] = shim.call(call);
      assert.equal(request.method, "desktop.navigate");
      assert.deepEqual(request.params, params);
      shim.server.last.reply(request, null);
      assert.equal(await promise, undefined);
    }
  });

  test("a navigation opens the page the daemon answers in a new tab", async () => {
    const calls = [(c) => c.desktopUI.navigate.viewContainerLogs("c1"), (c) => c.navigateToContainerLogs("c1")];
    for (const call of calls) {
      const shim = connectedShim();
      const [promise, request] = shim.call(call);
      assert.deepEqual(shim.opened, [], "nothing opens before the daemon found the container");
      shim.server.last.reply(request, { url: "/_ddbridge/docker/containers/c1full/logs" });
      assert.equal(await promise, undefined);
      assert.deepEqual(shim.opened, [["/_ddbridge/docker/containers/c1full/logs", "_blank", "noopener"]]);
    }
  });

  test("a v0 navigation without a result opens the page too", async () => {
    const shim = connectedShim();
    const [returned, request] = shim.call((c) => c.navigateToVolume("data"));
    assert.equal(returned, undefined);
    shim.server.last.reply(request, { url: "/_ddbridge/docker/volumes/data" });
    await settle();
    assert.deepEqual(shim.opened, [["/_ddbridge/docker/volumes/data", "_blank", "noopener"]]);
  });

  test("a rejected navigation opens nothing, nor does a URL outside the bridge's pages", async () => {
    const shim = connectedShim();
    const [rejected, request] = shim.call((c) => c.desktopUI.navigate.viewContainer("gone"));
    shim.server.last.fail(request, { code: -32008, message: "no container 'gone'", data: {} });
    await assert.rejects(rejected, /no container 'gone'/);
    for (const url of ["javascript:alert(1)", "https://example.com/", "//example.com/_ddbridge/"]) {
      const [promise, next] = shim.call((c) => c.desktopUI.navigate.viewImages());
      shim.server.last.reply(next, { url });
      assert.equal(await promise, undefined);
    }
    assert.deepEqual(shim.opened, []);
  });

  test("v0 navigations without a result log their failures", async () => {
    const shim = connectedShim();
    const cases = [
      [(c) => c.navigateToContainers(), { target: "containers" }],
      [(c) => c.navigateToImages(), { target: "images" }],
      [(c) => c.navigateToVolumes(), { target: "volumes" }],
      [(c) => c.navigateToVolume("data"), { target: "volume", id: "data" }],
    ];
    for (const [call, params] of cases) {
      const [returned, request] = shim.call(call);
      assert.equal(returned, undefined);
      assert.deepEqual(request.params, params);
      shim.server.last.fail(request, { code: -32603, message: "no UI", data: {} });
    }
    await settle();
    assert.equal(shim.console.messages("warn").length, cases.length);
  });

  test("showOpenDialog returns the daemon's result", async () => {
    const shim = connectedShim();
    const [promise, request] = shim.call((c) => c.desktopUI.dialog.showOpenDialog({ properties: ["openFile"] }));
    assert.deepEqual([request.method, request.params],
      ["desktop.openDialog", { props: { properties: ["openFile"] } }]);
    shim.server.last.reply(request, { canceled: false, filePaths: ["/a"] });
    assert.deepEqual(plain(await promise), { canceled: false, filePaths: ["/a"] });
  });

  test("showOpenDialog without props sends {}; only an interactive answer draws a dialog", async () => {
    const shim = connectedShim();
    shim.document.finishParsing();
    const [promise, request] = shim.call((c) => c.desktopUI.dialog.showOpenDialog());
    assert.deepEqual([request.method, plain(request.params)], ["desktop.openDialog", { props: {} }]);
    shim.server.last.reply(request, { canceled: true, filePaths: [] });
    assert.deepEqual(plain(await promise), { canceled: true, filePaths: [] });
    assert.deepEqual(shim.document.body.children, []);
    assert.deepEqual(shim.server.last.take(), []);
  });

  test("openExternal opens http(s) URLs and tells the daemon", () => {
    for (const open of [(c, url) => c.openExternal(url), (c, url) => c.host.openExternal(url)]) {
      const shim = connectedShim();
      const [returned, request] = shim.call((c) => open(c, "https://docs.docker.com/x?y=1"));
      assert.equal(returned, undefined);
      assert.deepEqual([request.method, request.params],
        ["host.openExternal", { url: "https://docs.docker.com/x?y=1" }]);
      assert.deepEqual(shim.opened, [["https://docs.docker.com/x?y=1", "_blank", "noopener"]]);
    }
  });

  test("openExternal refuses other URLs, synchronously", () => {
    const { client, server, opened } = loadShim();
    for (const url of ["javascript:alert(1)", "file:///etc/passwd", "/relative", "not a url", "ftp://x"]) {
      assert.throws(() => client.host.openExternal(url), (error) => {
        assert.match(error.message, /only absolute http: and https: URLs/);
        assert.ok(error.message.includes(JSON.stringify(url)));
        return true;
      });
      assert.throws(() => client.openExternal(url));
    }
    assert.equal(server.sockets.length, 0);
    assert.deepEqual(opened, []);
  });

  test("toasts shown before the body exists appear at DOMContentLoaded and go after 5 s", () => {
    const { client, server, document, clock } = loadShim();
    client.desktopUI.toast.success("saved");
    client.toastError("failed");
    client.toastWarning("careful");
    client.desktopUI.toast.warning("w2");
    assert.deepEqual(document.toasts(), []);
    document.finishParsing();
    const toasts = document.toasts();
    assert.deepEqual(toasts.map((t) => [t.getAttribute("data-ddbridge-toast"), t.textContent]), [
      ["success", "saved"], ["error", "failed"], ["warning", "careful"], ["warning", "w2"],
    ]);
    for (const toast of toasts) assert.equal(toast.getAttribute("role"), "status");
    const container = document.body.children[0];
    assert.match(container.style.cssText, /position:fixed/);
    assert.match(container.style.cssText, /bottom:/);
    assert.match(container.style.cssText, /right:/);
    clock.advance(4999);
    assert.equal(document.toasts().length, 4);
    clock.advance(1);
    assert.equal(document.toasts().length, 0);

    const socket = server.open();
    assert.deepEqual(socket.take().map((r) => [r.method, r.params]), [
      ["desktop.toast", { level: "success", message: "saved" }],
      ["desktop.toast", { level: "error", message: "failed" }],
      ["desktop.toast", { level: "warning", message: "careful" }],
      ["desktop.toast", { level: "warning", message: "w2" }],
    ]);
  });

  test("a toast can be dismissed by a click; the container comes back if removed", () => {
    const { client, document } = loadShim();
    document.finishParsing();
    client.desktopUI.toast.error("one");
    document.toasts()[0].click();
    assert.equal(document.toasts().length, 0);
    document.body.children[0].remove();
    client.desktopUI.toast.success("two");
    assert.deepEqual(document.toasts().map((t) => t.textContent), ["two"]);
  });

  test("a toast the daemon fails to log is only a warning", async () => {
    const shim = connectedShim();
    shim.document.finishParsing();
    const [, request] = shim.call((c) => c.desktopUI.toast.success("x"));
    shim.server.last.fail(request, { code: -32603, message: "oops", data: {} });
    await settle();
    assert.equal(shim.console.messages("warn").length, 1);
  });
});

describe("streams read as HTTP answers", () => {
  const ORIGIN = "http://127.0.0.1:8765";
  /** A record of the daemon's answer (bridge/stream_answer.py): kind, 4-byte length, bytes. */
  function record(kind, bytes) {
    const out = new Uint8Array(5 + bytes.length);
    out[0] = kind;
    new DataView(out.buffer).setUint32(1, bytes.length);
    out.set(bytes, 5);
    return out;
  }
  const utf8 = (text) => new TextEncoder().encode(text);
  const end = (params) => record(0, utf8(JSON.stringify({ jsonrpc: "2.0", method: "exec.exit", params })));

  /** The shim on the daemon's own origin, with a fetch that answers `bodies` in turn. */
  function answeringShim(bodies) {
    const fetched = [];
    const fetch = async (url, init) => {
      fetched.push({ url, authorization: init.headers && init.headers.Authorization });
      const body = bodies.shift();
      if (typeof body === "number") return new Response("no stream waits under this name", { status: body });
      return new Response(new ReadableStream({
        start(controller) {
          for (const piece of body) controller.enqueue(piece);
          controller.close();
        },
      }));
    };
    const shim = connectedShim({
      storage: { "ddbridge.credential": "cred" },
      predefined: {
        fetch, TextDecoder, MessageChannel, performance,
        location: { protocol: "http:", host: "127.0.0.1:8765", origin: ORIGIN, href: `${ORIGIN}/page/` },
      },
    });
    return { shim, fetched };
  }

  /** Cuts bytes at the given offsets: pieces as a network would deliver them. */
  function cut(bytes, ...at) {
    const bounds = [0, ...at, bytes.length];
    return bounds.slice(1).map((stop, i) => bytes.subarray(bounds[i], stop));
  }

  function joinedBytes(...parts) {
    const out = new Uint8Array(parts.reduce((size, part) => size + part.length, 0));
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  test("output, split anywhere, arrives as lines; the end record closes the stream", async () => {
    const body = joinedBytes(
      record(1, utf8("one\ntw")),
      record(2, utf8("err\n")),
      record(1, utf8("o €").subarray(0, 4)), // the euro sign's first byte only
      record(1, utf8("€\nlast").subarray(2)), // and its other two
      end({ stream: "s1", code: 3, signal: null }),
    );
    // Cut inside a header, inside a payload and inside the euro sign.
    const { shim, fetched } = answeringShim([cut(body, 2, 12, 27, 31, 40)]);
    const { events, options } = recorder();
    const [, request] = shim.call((c) => c.extension.host.cli.exec("tool", [], {
      stream: { ...options, splitOutputLines: true },
    }));
    assert.equal(request.params.output, "http");
    shim.server.last.reply(request, { stream: "s1", output: "/_ddbridge/streams/abc" });
    for (let i = 0; i < 10; i++) await settle();
    assert.deepEqual(fetched, [{ url: `${ORIGIN}/_ddbridge/streams/abc`, authorization: "Bearer cred" }]);
    assert.deepEqual(events, [
      ["output", { stdout: "one" }],
      ["output", { stderr: "err" }],
      ["output", { stdout: "two €" }],
      ["output", { stdout: "last" }],
      ["close", 3],
    ]);
  });

  test("the lines are the same wherever the answer is cut, once or twice", async () => {
    const body = joinedBytes(
      record(1, utf8("a€\nb")),
      record(2, utf8("é\n")),
      record(1, utf8("c\n")),
      end({ stream: "s1", code: 0, signal: null }),
    );
    const expected = [
      ["output", { stdout: "a€" }],
      ["output", { stderr: "é" }],
      ["output", { stdout: "bc" }],
      ["close", 0],
    ];
    const cuts = [];
    for (let first = 1; first < body.length; first++) {
      cuts.push([first]);
      for (let second = first + 1; second < body.length; second += 7) cuts.push([first, second]);
    }
    for (const at of cuts) {
      const { shim } = answeringShim([cut(body, ...at)]);
      const { events, options } = recorder();
      const [, request] = shim.call((c) => c.extension.host.cli.exec("tool", [], {
        stream: { ...options, splitOutputLines: true },
      }));
      shim.server.last.reply(request, { stream: "s1", output: "/_ddbridge/streams/abc" });
      for (let i = 0; i < 10; i++) await settle();
      assert.deepEqual(events, expected, `cut at ${at}`);
    }
  });

  test(`at most two streams at once are answers; the others come on the socket`, async () => {
    const { shim } = answeringShim([]);
    const outputs = [];
    for (let i = 0; i < 3; i++) {
      const [, request] = shim.call((c) => c.docker.cli.exec("logs", ["-f"], { stream: {} }));
      outputs.push(request.params.output);
    }
    assert.deepEqual(outputs, ["http", "http", "notifications"]);
  });

  test("an answer refused ends the stream with the reason and kills its process", async () => {
    const { shim } = answeringShim([404]);
    const { events, options } = recorder();
    const [, request] = shim.call((c) => c.extension.host.cli.exec("tool", [], { stream: options }));
    const socket = shim.server.last;
    socket.reply(request, { stream: "s1", output: "/_ddbridge/streams/abc" });
    for (let i = 0; i < 10; i++) await settle();
    assert.deepEqual(events, [["error", "ddbridge: the output answer failed: HTTP 404 no stream waits under this name"]]);
    const kill = socket.takeOne();
    assert.deepEqual([kill.method, kill.params], ["exec.kill", { stream: "s1" }]);
  });

  test("an answer that ends before its end record is an error", async () => {
    const { shim } = answeringShim([[record(1, utf8("partial"))]]);
    const { events, options } = recorder();
    const [, request] = shim.call((c) => c.extension.host.cli.exec("tool", [], { stream: options }));
    shim.server.last.reply(request, { stream: "s1", output: "/_ddbridge/streams/abc" });
    for (let i = 0; i < 10; i++) await settle();
    assert.deepEqual(events, [
      ["output", { stdout: "partial" }],
      ["error", "ddbridge: the output answer ended before the stream did"],
    ]);
  });

  test("a daemon that answers without `output` streams on the socket", async () => {
    const { shim, fetched } = answeringShim([]);
    const { events, options } = recorder();
    const [, request] = shim.call((c) => c.extension.host.cli.exec("tool", [], { stream: options }));
    const socket = shim.server.last;
    socket.reply(request, { stream: "s1" });
    await settle();
    socket.notify("exec.output", { stream: "s1", stdout: "via the socket" });
    socket.notify("exec.exit", { stream: "s1", code: 0, signal: null });
    assert.deepEqual(fetched, []);
    assert.deepEqual(events, [["output", { stdout: "via the socket" }], ["close", 0]]);
  });
});
