// ddbridge inspector: a live view of every page's calls, streams, toasts and navigation intents.
//
// Reads /_ddbridge/events (one JSON event per frame: "hello", the daemon's history, then live
// events; see bridge/inspector.py) and keeps a bounded table. Plain JS, no build step, no
// window.ddClient: this page never opens /rpc, so it never shows up in its own log.
// Everything the daemon sends is put in the page with textContent, never as HTML.
"use strict";

(() => {
  const MAX_ROWS = 5000;
  const DROP_ROWS = 500; // rows dropped at once past MAX_ROWS
  const FLUSH_MS = 30;
  const OUTPUT_TAIL = 64 * 1024;
  const RECONNECT_MIN_MS = 250;
  const RECONNECT_MAX_MS = 5000;
  const KINDS = [
    ["call", "Calls"],
    ["stream", "Streams"],
    ["toast", "Toasts"],
    ["navigate", "Navigation"],
    ["connection", "Pages"],
  ];
  // Calls that are themselves a toast or a navigation intent: one row, of that kind, shows both
  // the call and the event its handler publishes.
  const CALL_KINDS = { "desktop.toast": "toast", "desktop.navigate": "navigate" };
  const EVENT_KINDS = { toast: true, navigate: true };
  // The status cell of a page's rows: one row from its shim's load (or its connection, for a
  // client without the shim) that turns "open" when it connects, and one when it closes.
  const PAGE_STATES = {
    "page loaded": ["loaded", "muted", "the shim loaded; no call yet, so no connection"],
    "page opened": ["open", "muted", ""],
  };
  const ERROR_LABELS = {
    "-32700": "parse error",
    "-32600": "invalid request",
    "-32601": "no such method",
    "-32602": "invalid params",
    "-32603": "internal error",
    "-32002": "exec error",
    "-32003": "forbidden",
    "-32004": "no Docker engine",
    "-32005": "limit exceeded",
    "-32006": "unknown stream",
    "-32007": "not configured",
    "-32008": "not found",
  };

  const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
  const tbody = $("rows");
  const scroller = $("scroller");
  const filterInput = /** @type {HTMLInputElement} */ ($("filter"));
  const followButton = $("follow");
  const newerButton = $("newer");

  /**
   * One line of the table: a call (with its result), a stream (an exec.spawn call with its
   * output and exit), a toast, a navigation intent, a connection opening or closing, a notice.
   * @typedef {{
   *   kind: string, time: number, conn: string | null, page: string | null,
   *   method: string, params: any, id?: any, pending: boolean, result?: any, error?: any,
   *   durationMs?: number, event?: any, stream?: StreamState, notice?: string, abandoned?: boolean,
   *   published?: any,
   *   el: HTMLTableRowElement, detail: HTMLTableRowElement | null, search: string | null,
   * }} Row
   * @typedef {{ key: string, runs: [string, string][], size: number, truncated: number,
   *   exit: any, error: string | null, abandoned: boolean, endTime: number | null }} StreamState
   */

  /** @type {Row[]} */
  let rows = [];
  /** @type {Map<number, Row>} call event seq → its row */
  const calls = new Map();
  /** @type {Map<string, Row>} "conn/stream" → the stream's row */
  const streams = new Map();
  /** @type {Map<string, Row>} "conn/kind" → the pending desktop.toast / desktop.navigate call */
  const eventCalls = new Map();
  /** @type {Map<string, {page: string | null, peer: string | null}>} */
  const connections = new Map();
  /** @type {Map<number, Row>} page.load seq → the page's row, until its connection opens */
  const loads = new Map();
  /** @type {Record<string, boolean>} */
  const shownKinds = Object.fromEntries(KINDS.map(([kind]) => [kind, true]));
  /** @type {Record<string, HTMLElement>} */
  const kindCounts = {};
  /** @type {Record<string, number>} */
  const counts = Object.fromEntries(KINDS.map(([kind]) => [kind, 0]));
  let filterWords = /** @type {string[]} */ ([]);
  let follow = true;
  let historyLimit = 0;
  /** @type {WebSocket | null} */
  let socket = null;

  // ---- formatting ----------------------------------------------------------------------

  /** @param {number} seconds since the epoch */
  function clock(seconds) {
    const date = new Date(seconds * 1000);
    const pad = (n, width = 2) => String(n).padStart(width, "0");
    return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
  }

  /** @param {number | undefined} ms */
  function duration(ms) {
    if (ms === undefined) return "";
    if (ms < 1) return `${ms.toFixed(2)} ms`;
    if (ms < 1000) return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
    return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  }

  /** @param {any} value */
  function compact(value) {
    if (value === undefined || value === null) return "";
    if (typeof value === "object" && Object.keys(value).length === 0) return "";
    return JSON.stringify(value);
  }

  /** A short, readable line for the parameters of well-known methods. */
  function summary(method, params) {
    if (typeof params === "string") return params;
    const p = params && typeof params === "object" ? params : {};
    switch (method) {
      case "exec.run":
      case "exec.spawn":
        return [p.target, p.cmd, ...(Array.isArray(p.args) ? p.args : [])].join(" ");
      case "exec.kill":
        return `stream ${p.stream}`;
      case "service.request":
        return `${p.method} ${p.url}`;
      case "desktop.toast":
        return `${p.level}: ${p.message}`;
      case "desktop.navigate":
      case "navigate": {
        const where = [p.target, p.id, p.tag].filter((part) => part !== undefined && part !== null);
        if (p.url) where.push(`→ ${p.url}`);
        return where.length ? where.join(" ") : compact(params);
      }
      case "host.openExternal":
        return String(p.url);
      default:
        return compact(params);
    }
  }

  /**
   * The page column: the path on this origin, else host and path. Browsers send no Referer on
   * WebSocket upgrades, so often only the Origin is known: nothing to add on this origin.
   * @param {string | null} page a URL, the page's Referer or Origin
   */
  function pagePath(page) {
    if (!page) return "";
    try {
      const url = new URL(page);
      const originOnly = /^[a-z]+:\/\/[^/]+\/?$/i.test(page);
      if (url.origin === location.origin) return originOnly ? "" : url.pathname + url.search;
      return originOnly ? url.host : url.host + url.pathname;
    } catch {
      return page;
    }
  }

  /**
   * The status cell of a row: [text, tone, title].
   * @param {Row} row
   * @returns {[string, string, string]}
   */
  function status(row) {
    if (row.error) return errorStatus(row.error);
    if (row.kind === "toast") {
      const level = row.params?.level;
      return [`${level} toast`, { success: "ok", warning: "warn", error: "bad" }[level] || "info", ""];
    }
    if (row.kind === "navigate") return ["intent", "info", ""];
    if (row.kind === "connection") return PAGE_STATES[row.method] || ["closed", "muted", ""];
    if (row.kind === "notice") return ["missed", "warn", row.notice || ""];
    const stream = row.stream;
    if (stream) {
      if (stream.error) return ["stream failed", "bad", stream.error];
      if (stream.exit) {
        const { code, signal } = stream.exit;
        if (signal) return [signal, "warn", `ended by ${signal}`];
        return [`exit ${code}`, code === 0 ? "ok" : "warn", ""];
      }
      if (stream.abandoned) return ["page closed", "muted", "the page went away: the process was ended"];
      return ["running", "info running", ""];
    }
    if (row.pending) {
      return row.abandoned ? ["no reply", "muted", "the page went away first"] : ["pending", "muted running", ""];
    }
    if (row.method === "exec.run" && row.result && typeof row.result.code === "number") {
      const { code, signal } = row.result;
      if (signal) return [signal, "warn", ""];
      return [`exit ${code}`, code === 0 ? "ok" : "warn", ""];
    }
    return ["ok", "ok", ""];
  }

  /**
   * @param {any} error a JSON-RPC error object
   * @returns {[string, string, string]}
   */
  function errorStatus(error) {
    const data = error.data || {};
    const label = error.code === -32001 ? `${data.statusCode} ${data.name}` : ERROR_LABELS[String(error.code)];
    return [label || `error ${error.code}`, "bad", error.message || ""];
  }

  /**
   * Pretty JSON with a few colours, built from text nodes.
   * @param {any} value
   */
  function jsonBlock(value) {
    const pre = document.createElement("pre");
    const text = value === undefined ? "undefined" : JSON.stringify(value, null, 2);
    const token = /("(?:\\.|[^"\\])*")(\s*:)?|\b(true|false|null)\b|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;
    let last = 0;
    for (const match of text.matchAll(token)) {
      const at = match.index || 0;
      if (at > last) pre.append(text.slice(last, at));
      const span = document.createElement("span");
      span.className = match[1] ? (match[2] ? "k" : "s") : match[3] ? "l" : "n";
      span.textContent = match[1] || match[0];
      pre.append(span);
      if (match[2]) pre.append(match[2]);
      last = at + match[0].length;
    }
    pre.append(text.slice(last));
    return pre;
  }

  // ---- rows ----------------------------------------------------------------------------

  /** @param {string} tag @param {string} className @param {string} [text] */
  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /**
   * @param {string} kind
   * @param {any} event
   * @param {Partial<Row>} fields
   * @returns {Row}
   */
  function addRow(kind, event, fields) {
    const el = /** @type {HTMLTableRowElement} */ (document.createElement("tr"));
    el.tabIndex = 0;
    /** @type {Row} */
    const row = {
      kind,
      time: event.time,
      conn: event.conn || null,
      page: event.page || connections.get(event.conn)?.page || null,
      method: "",
      params: undefined,
      pending: false,
      event,
      el,
      detail: null,
      search: null,
      ...fields,
    };
    el.addEventListener("click", (click) => {
      if (!(click.target instanceof Element && click.target.closest("a"))) toggle(row);
    });
    el.addEventListener("keydown", (key) => {
      if (key.key === "Enter" || key.key === " ") {
        key.preventDefault();
        toggle(row);
      }
    });
    rows.push(row);
    render(row);
    tbody.append(el);
    if (counted(row)) count(kind, 1);
    if (rows.length > MAX_ROWS) drop(DROP_ROWS);
    return row;
  }

  /** Removes the ``howMany`` oldest rows (the view keeps at most MAX_ROWS). */
  function drop(howMany) {
    for (const row of rows.slice(0, howMany)) {
      row.el.remove();
      row.detail?.remove();
      if (counted(row)) count(row.kind, -1);
      if (row.event && calls.get(row.event.seq) === row) calls.delete(row.event.seq);
      if (row.event && loads.get(row.event.seq) === row) loads.delete(row.event.seq);
      if (row.stream && streams.get(row.stream.key) === row) streams.delete(row.stream.key);
    }
    rows = rows.slice(howMany);
  }

  /** Redraws a row's cells (and its details when open), and applies the filter to it. */
  function render(row) {
    const [statusText, tone, statusTitle] = status(row);
    const cells = [
      element("td", "time", clock(row.time)),
      element("td", "page"),
      element("td", "method", row.method),
      element("td", "params", row.kind === "toast" ? row.params?.message : summary(row.method, row.params)),
      element("td", "duration num", durationOf(row)),
      element("td", "state"),
    ];
    if (row.conn) cells[1].append(element("span", "conn", row.conn));
    cells[1].append(pagePath(row.page));
    cells[1].title = [row.page, connections.get(row.conn || "")?.peer].filter(Boolean).join(" from ");
    cells[3].title = cells[3].textContent || "";
    const badge = element("span", `badge ${tone}`, statusText);
    if (statusTitle) badge.title = statusTitle;
    cells[5].append(badge);
    row.el.className = `row kind-${row.kind}${row.detail ? " open" : ""}`;
    row.el.dataset.kind = row.kind;
    row.el.dataset.status = statusText;
    row.el.setAttribute("aria-expanded", row.detail ? "true" : "false");
    row.el.replaceChildren(...cells);
    row.search = null;
    if (row.detail) fillDetail(row);
    applyFilter(row);
  }

  /** @type {Set<Row>} */
  const dirty = new Set();
  let flushTimer = 0;

  /**
   * Redraws ``row`` soon: a chatty stream costs one redraw per FLUSH_MS, not one per event. A
   * timer, not requestAnimationFrame, which never fires in a tab that is not shown.
   */
  function touch(row) {
    dirty.add(row);
    schedule();
  }

  function schedule() {
    if (!flushTimer) flushTimer = window.setTimeout(flush, FLUSH_MS);
  }

  function flush() {
    flushTimer = 0;
    const rowsToDraw = [...dirty];
    dirty.clear();
    for (const each of rowsToDraw) if (each.el.isConnected) render(each);
    if (follow) scroller.scrollTop = scroller.scrollHeight;
  }

  /** @param {Row} row */
  function durationOf(row) {
    if (row.stream && row.stream.endTime !== null) return duration((row.stream.endTime - row.time) * 1000);
    return duration(row.durationMs);
  }

  /** @param {Row} row */
  function toggle(row) {
    if (row.detail) {
      row.detail.remove();
      row.detail = null;
    } else {
      row.detail = /** @type {HTMLTableRowElement} */ (document.createElement("tr"));
      row.detail.className = "detail";
      row.el.after(row.detail);
    }
    render(row);
  }

  /** The expanded view of a row: facts, then params / result / error / output as blocks. */
  function fillDetail(row) {
    const detail = /** @type {HTMLTableRowElement} */ (row.detail);
    const previous = detail.querySelector("pre.output");
    const keepBottom = !previous || previous.scrollTop + previous.clientHeight >= previous.scrollHeight - 4;
    const cell = /** @type {HTMLTableCellElement} */ (element("td", ""));
    cell.colSpan = 6;
    const meta = element("div", "meta");
    const fact = (name, value) => {
      if (value === undefined || value === null || value === "") return;
      const item = element("span", "", `${name} `);
      item.append(element("b", "", String(value)));
      meta.append(item);
    };
    fact("at", new Date(row.time * 1000).toLocaleString());
    fact("connection", row.conn);
    fact("page", row.page);
    fact("from", connections.get(row.conn || "")?.peer);
    fact("request id", row.id);
    if (row.event?.notification) fact("notification", "no reply expected");
    if (Array.isArray(row.event?.ignored)) fact("ignored", row.event.ignored.join(", "));
    if (row.durationMs !== undefined) fact("duration", duration(row.durationMs));
    if (row.stream) {
      fact("stream", row.stream.key.split("/")[1]);
      if (row.stream.exit) fact("exit", row.stream.exit.signal || row.stream.exit.code);
    }
    cell.append(meta);
    const panes = element("div", "panes");
    const pane = (title, content, wide = false) => {
      const box = element("section", `pane${wide ? " wide" : ""}`);
      box.append(element("h2", "", title), content);
      panes.append(box);
      return box;
    };
    if (row.event?.kind === "call") {
      pane("Parameters", jsonBlock(row.params ?? null));
      if (row.error) pane("Error", jsonBlock(row.error));
      else if (!row.pending) pane("Result", jsonBlock(row.result ?? null));
      if (row.published) pane(`Event: ${row.published.kind}`, jsonBlock(eventFields(row.published)));
    } else if (row.kind === "toast") {
      pane("Message", element("pre", "", String(row.params?.message)), true);
    } else if (row.kind === "notice") {
      pane("What happened", element("pre", "", row.notice || ""), true);
    } else {
      pane("Event", jsonBlock(eventFields(row.event)), true);
    }
    if (row.stream) {
      const output = element("pre", "output");
      for (const [name, text] of row.stream.runs) output.append(element("span", name, text));
      if (!row.stream.runs.length) output.append(element("span", "note", "(no output yet)"));
      const box = pane("Output", output, true);
      const notes = [];
      if (row.stream.truncated) notes.push(`${row.stream.truncated} earlier characters not kept`);
      if (row.stream.error) notes.push(`failed: ${row.stream.error}`);
      if (notes.length) box.append(element("div", "note", notes.join(" · ")));
    }
    cell.append(panes);
    detail.replaceChildren(cell);
    const shown = detail.querySelector("pre.output");
    if (shown && keepBottom) shown.scrollTop = shown.scrollHeight;
  }

  /** An event's own fields, without the envelope. */
  function eventFields(event) {
    const { seq: _seq, time: _time, kind: _kind, conn: _conn, page: _page, ...fields } = event;
    return fields;
  }

  // ---- filter and kinds ----------------------------------------------------------------

  /** @param {Row} row */
  function searchText(row) {
    if (row.search === null) {
      const parts = [row.method, row.conn, row.page, row.notice, summary(row.method, row.params)];
      if (row.event?.kind === "call") {
        parts.push(compact(row.params), compact(row.result), compact(row.error), compact(row.published));
      } else {
        parts.push(compact(row.event));
      }
      if (row.stream) parts.push(...row.stream.runs.map(([, text]) => text));
      row.search = parts.filter(Boolean).join("\n").toLowerCase();
    }
    return row.search;
  }

  /** @param {Row} row */
  function applyFilter(row) {
    const kindShown = row.kind === "notice" || shownKinds[row.kind];
    const text = filterWords.length ? searchText(row) : "";
    const hidden = !kindShown || !filterWords.every((word) => text.includes(word));
    row.el.hidden = hidden;
    if (row.detail) row.detail.hidden = hidden;
  }

  function applyFilterAll() {
    for (const row of rows) applyFilter(row);
    updateEmpty();
  }

  /** Whether a row counts in its kind's button: "Pages" counts pages, not their closing rows. */
  function counted(row) {
    return row.method !== "page closed";
  }

  /** @param {string} kind @param {number} change */
  function count(kind, change) {
    if (!(kind in counts)) return;
    counts[kind] += change;
    kindCounts[kind].textContent = String(counts[kind]);
  }

  function updateEmpty() {
    const empty = $("empty");
    const visible = rows.some((row) => !row.el.hidden);
    empty.hidden = visible;
    empty.textContent = rows.length
      ? "No event matches the filter."
      : "Waiting for calls. Open the extension's page and every call it makes shows up here, live.";
    $("summary").textContent =
      `${rows.length} event${rows.length === 1 ? "" : "s"} in view` +
      (historyLimit ? ` · the daemon keeps the last ${historyLimit}` : "") +
      ` · ${[...connections.values()].filter((c) => c.peer !== null).length} page(s) connected`;
  }

  for (const [kind, label] of KINDS) {
    const button = /** @type {HTMLButtonElement} */ (element("button", "", label));
    button.type = "button";
    button.dataset.kind = kind;
    button.setAttribute("aria-pressed", "true");
    kindCounts[kind] = element("span", "count", "0");
    button.append(kindCounts[kind]);
    button.addEventListener("click", () => {
      shownKinds[kind] = !shownKinds[kind];
      button.setAttribute("aria-pressed", String(shownKinds[kind]));
      applyFilterAll();
    });
    $("kinds").append(button);
  }

  filterInput.addEventListener("input", () => {
    filterWords = filterInput.value.toLowerCase().split(/\s+/).filter(Boolean);
    applyFilterAll();
  });

  // ---- auto-scroll ---------------------------------------------------------------------

  let newerWaiting = false;

  function setFollow(on) {
    follow = on;
    followButton.setAttribute("aria-pressed", String(on));
    if (on) {
      newerWaiting = false;
      newerButton.hidden = true;
      scroller.scrollTop = scroller.scrollHeight;
    }
  }

  /** After rows were added: keep the newest in view, or offer to jump there. */
  function rowsAdded() {
    updateEmpty();
    if (follow) {
      schedule();
    } else {
      newerWaiting = true;
      newerButton.hidden = false;
    }
  }

  let lastScrollTop = 0;
  scroller.addEventListener("scroll", () => {
    const atBottom = scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 24;
    if (scroller.scrollTop < lastScrollTop && !atBottom && follow) setFollow(false);
    else if (atBottom && !follow && newerWaiting) setFollow(true);
    lastScrollTop = scroller.scrollTop;
  });
  followButton.addEventListener("click", () => setFollow(!follow));
  newerButton.addEventListener("click", () => setFollow(true));

  // ---- events --------------------------------------------------------------------------

  function clearView() {
    dirty.clear();
    for (const row of rows) {
      row.el.remove();
      row.detail?.remove();
    }
    rows = [];
    calls.clear();
    streams.clear();
    eventCalls.clear();
    loads.clear();
    for (const [kind] of KINDS) count(kind, -counts[kind]);
    updateEmpty();
  }

  /** @param {string} key @param {any} event the event that named the stream */
  function streamRow(key, event) {
    let row = streams.get(key);
    if (!row) {
      // Its exec.spawn call is no longer in the history: the stream gets a row of its own.
      row = addRow("stream", event, { method: `stream ${event.stream}`, params: undefined });
      row.stream = newStream(key);
      streams.set(key, row);
      rowsAdded();
    }
    return row;
  }

  /** @param {string} key */
  function newStream(key) {
    return { key, runs: [], size: 0, truncated: 0, exit: null, error: null, abandoned: false, endTime: null };
  }

  /** @param {StreamState} stream @param {[string, string][]} runs @param {number} truncated */
  function appendOutput(stream, runs, truncated) {
    stream.truncated += truncated || 0;
    for (const [name, text] of runs) {
      const last = stream.runs[stream.runs.length - 1];
      if (last && last[0] === name) last[1] += text;
      else stream.runs.push([name, text]);
      stream.size += text.length;
    }
    while (stream.size > OUTPUT_TAIL && stream.runs.length) {
      const first = stream.runs[0];
      const excess = stream.size - OUTPUT_TAIL;
      if (first[1].length <= excess) {
        stream.runs.shift();
        stream.size -= first[1].length;
        stream.truncated += first[1].length;
      } else {
        first[1] = first[1].slice(excess);
        stream.size -= excess;
        stream.truncated += excess;
      }
    }
  }

  /**
   * The header's engine: its address and context, how it was chosen on hover.
   * @param {{host: string, context: string | null, source: string} | undefined} engine
   */
  function showEngine(engine) {
    const el = $("engine");
    el.hidden = !engine;
    if (!engine) return;
    const host = document.createElement("b");
    host.textContent = engine.host;
    el.replaceChildren("engine ", host, engine.context ? ` · context ${engine.context}` : "");
    el.title = `Docker engine ${engine.host} (${engine.source})`;
  }

  /** Applies one event from the daemon to the view. */
  function handle(event) {
    switch (event.kind) {
      case "hello":
        historyLimit = event.history;
        showEngine(event.engine);
        connections.clear();
        clearView();
        return;
      case "cleared":
        clearView();
        return;
      case "missed":
        addRow("notice", { time: Date.now() / 1000 }, {
          method: "events missed",
          notice: `${event.count} events were dropped: the inspector fell behind the daemon.`,
          params: undefined,
        });
        break;
      case "page.load":
        loads.set(event.seq, addRow("connection", event, { method: "page loaded", params: event.page || "" }));
        break;
      case "connection.open": {
        connections.set(event.conn, { page: event.page, peer: event.peer });
        const fields = { conn: event.conn, method: "page opened", params: event.page || "" };
        const loaded = loads.get(event.load);
        if (loaded) {
          // The page listed since its shim loaded has connected: the same row, now open.
          loads.delete(event.load);
          Object.assign(loaded, fields, { page: event.page || loaded.page, event, search: null });
          touch(loaded);
        } else {
          addRow("connection", event, fields);
        }
        break;
      }
      case "connection.close": {
        const known = connections.get(event.conn);
        if (known) known.peer = null;
        addRow("connection", event, { method: "page closed", params: "" });
        for (const row of rows) {
          if (row.conn !== event.conn) continue;
          if (row.stream && !row.stream.exit && !row.stream.error) {
            row.stream.abandoned = true;
            row.stream.endTime = event.time;
            touch(row);
          } else if (row.pending && !row.abandoned) {
            row.abandoned = true;
            touch(row);
          }
        }
        break;
      }
      case "call": {
        const kind = event.method === "exec.spawn" ? "stream" : CALL_KINDS[event.method] || "call";
        const row = addRow(kind, event, {
          method: event.method,
          params: event.params,
          id: event.id,
          pending: true,
        });
        calls.set(event.seq, row);
        if (kind in EVENT_KINDS) eventCalls.set(`${event.conn}/${kind}`, row);
        break;
      }
      case "result": {
        const row = calls.get(event.call);
        if (!row) return;
        calls.delete(event.call);
        if (eventCalls.get(`${row.conn}/${row.kind}`) === row) eventCalls.delete(`${row.conn}/${row.kind}`);
        row.pending = false;
        row.durationMs = event.durationMs;
        if ("error" in event) row.error = event.error;
        else row.result = event.result;
        if (row.kind === "stream" && row.result && row.result.stream !== undefined) {
          row.stream = newStream(`${event.conn}/${row.result.stream}`);
          streams.set(row.stream.key, row);
        }
        touch(row);
        return;
      }
      case "stream.output": {
        const row = streamRow(`${event.conn}/${event.stream}`, event);
        appendOutput(/** @type {StreamState} */ (row.stream), event.output || [], event.truncated);
        touch(row);
        return;
      }
      case "stream.exit":
      case "stream.error": {
        const row = streamRow(`${event.conn}/${event.stream}`, event);
        const stream = /** @type {StreamState} */ (row.stream);
        if (event.kind === "stream.exit") stream.exit = { code: event.code, signal: event.signal };
        else stream.error = event.message;
        stream.endTime = event.time;
        touch(row);
        return;
      }
      case "toast":
      case "navigate": {
        // Published by the handler of a desktop.toast / desktop.navigate call: that call's row.
        const call = eventCalls.get(`${event.conn}/${event.kind}`);
        if (call) {
          eventCalls.delete(`${event.conn}/${event.kind}`);
          call.published = event;
          touch(call);
          return;
        }
        addRow(event.kind, event, { method: event.kind, params: eventFields(event) });
        break;
      }
      default:
        return;
    }
    rowsAdded();
  }

  // ---- the connection to the daemon -----------------------------------------------------

  /** @param {"connecting" | "live" | "offline"} state @param {string} text */
  function setStatus(state, text) {
    const badge = $("status");
    badge.dataset.state = state;
    badge.title = state === "live" ? "receiving events from the daemon" : text;
    $("status-text").textContent = text;
  }

  let delay = RECONNECT_MIN_MS;

  /**
   * The page credential the login page stored for this origin: the events and the export need
   * it sent explicitly (the cookie only shows pages; see bridge/access.py).
   * @returns {string}
   */
  function credential() {
    try {
      return localStorage.getItem("ddbridge.credential") || "";
    } catch {
      return "";
    }
  }

  function connect() {
    setStatus("connecting", "connecting…");
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/_ddbridge/events`;
    const token = credential();
    const ws = new WebSocket(url, token ? ["ddbridge", `ddbridge.credential.${token}`] : ["ddbridge"]);
    socket = ws;
    ws.addEventListener("open", () => {
      delay = RECONNECT_MIN_MS;
      setStatus("live", "live");
    });
    ws.addEventListener("message", (message) => {
      try {
        handle(JSON.parse(message.data));
      } catch (error) {
        console.warn("ddbridge inspector: cannot show an event:", error);
      }
    });
    ws.addEventListener("close", (event) => {
      if (socket !== ws) return;
      socket = null;
      if (event.code === 4401) {
        // No page credential in this origin's storage (or an outdated one): retrying cannot help.
        setStatus("offline", "not signed in: open the URL ddbridge printed (…/_ddbridge/?token=…)");
        return;
      }
      const wait = Math.min(delay, RECONNECT_MAX_MS) * (0.8 + Math.random() * 0.4);
      delay = Math.min(delay * 2, RECONNECT_MAX_MS);
      setStatus("offline", `offline · retrying in ${(wait / 1000).toFixed(1)} s`);
      setTimeout(connect, wait);
    });
  }

  $("export").addEventListener("click", async (event) => {
    event.preventDefault();
    const link = /** @type {HTMLAnchorElement} */ (event.currentTarget);
    const token = credential();
    try {
      const answer = await fetch(link.href, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
      if (!answer.ok) throw new Error(`${answer.status} ${await answer.text()}`);
      const name = /filename="([^"]+)"/.exec(answer.headers.get("Content-Disposition") || "");
      const save = document.createElement("a");
      save.href = URL.createObjectURL(await answer.blob());
      save.download = name ? name[1] : "ddbridge-events.json";
      save.click();
      setTimeout(() => URL.revokeObjectURL(save.href), 60000);
    } catch (error) {
      setStatus("offline", `export failed: ${error}`);
    }
  });

  $("clear").addEventListener("click", () => {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ op: "clear" }));
    else clearView();
  });

  updateEmpty();
  connect();
})();
