// The extensions host's page: Docker Desktop's window in a browser tab. A left navigation
// (Containers, Images, Volumes: the bridge's Docker pages; every installed extension; "Manage
// extensions") and the selected item in the main area, named in the URL's hash so a reload
// keeps it: #/containers, #/images, #/volumes, #/extension/<name>, #/extensions.
//
// One WebSocket to this origin's /rpc, where the management methods live (extensions.*, see
// bridge/host/management.py); their progress arrives as extensions.progress notifications.
// Each extension is framed from its own origin with the URL extensions.open gives, which signs
// the frame in there. A framed page may be denied storage (a third-party frame), so its shim
// asks this page for its credential: the answer goes to that frame alone, on its origin alone.
// Plain script, no build step. Everything the daemon sends (titles, errors, progress) reaches
// the DOM as text, never as HTML.
"use strict";

(() => {
  const CREDENTIAL_KEY = "ddbridge.credential";
  const UNAUTHENTICATED_CLOSE_CODE = 4401;
  const RECONNECT_MIN_MS = 250;
  const RECONNECT_MAX_MS = 5000;
  // While an extension's backend is coming up, the list is asked again this often.
  const STARTING_REFRESH_MS = 3000;
  // A card of an operation that succeeded folds after a while, and goes after a longer one (a
  // failed one stays until it is dismissed).
  const DONE_FOLD_MS = 6000;
  const DONE_CARD_MS = 30000;
  const TICK_MS = 200;
  const DOCKER_PAGES = /** @type {const} */ (["containers", "images", "volumes"]);
  const LAYER_DONE = ["Pull complete", "Already exists", "Download complete"];
  const STATUS_LABELS = { starting: "Starting", running: "Running", failed: "Failed", stopped: "Stopped" };

  /**
   * An installed extension as extensions.list describes it (bridge/host/manager.py, describe).
   * @typedef {{
   *   name: string, image: string, title: string, provider: string, version: string,
   *   slug: string, origin: string, status: "starting" | "running" | "failed" | "stopped",
   *   error: string, uiSource: string | null, installedAt: string, ui: string[],
   *   containers: string[] | null, hostBinaries: string[], icon: string,
   * }} Extension
   * @typedef {{origin: string, url: string, credential: string}} Opened
   * @typedef {{frame: HTMLIFrameElement, opened: Opened}} Framed
   * @typedef {{code?: number, message?: string, data?: unknown}} RpcError
   * @typedef {{resolve: (result: any) => void, reject: (error: Error) => void}} Pending
   * @typedef {{kind: "info" | "warn" | "fail", message: string}} MessageEvent_
   * @typedef {{kind: "step", state: "start" | "detail" | "done" | "failed", title: string,
   *   detail: string, elapsed: number}} StepEvent
   * @typedef {{kind: "layer", id: string, status: string, current: number, total: number}} LayerEvent
   * @typedef {MessageEvent_ | StepEvent | LayerEvent} ProgressEvent_
   */

  const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
  const main = $("main");
  const extensionLinks = $("extension-links");
  const framesBox = $("frames");
  const operationsBox = $("operations");
  const installForm = /** @type {HTMLFormElement} */ ($("install-form"));
  const installImage = /** @type {HTMLInputElement} */ ($("install-image"));
  const installPull = /** @type {HTMLInputElement} */ ($("install-pull"));
  const updateDialog = /** @type {HTMLDialogElement} */ ($("update-dialog"));
  const updateForm = /** @type {HTMLFormElement} */ ($("update-form"));
  const updateImage = /** @type {HTMLInputElement} */ ($("update-image"));
  const updatePull = /** @type {HTMLInputElement} */ ($("update-pull"));

  // ------------------------------------------------------------------------------------------
  // DOM and formatting helpers

  const { h, formatBytes } = ddbridgeDom; // bridge/static/dom.js, loaded before this script

  /** @param {unknown} error a rejection: the daemon's error, or the connection's */
  function errorText(error) {
    return error instanceof Error ? error.message : String(error);
  }

  /** @param {number} seconds */
  const formatElapsed = (seconds) => `${seconds.toFixed(1)} s`;

  /**
   * The repository of an image reference: without its tag or digest (a ':' after the last '/'
   * starts the tag; one before it belongs to a registry's port).
   * @param {string} reference
   */
  function repositoryOf(reference) {
    const bare = reference.split("@", 1)[0];
    const colon = bare.lastIndexOf(":");
    return colon > bare.lastIndexOf("/") ? bare.slice(0, colon) : bare;
  }

  /** The icon of an extension, or its title's first letter when the icon does not load (drawn
   * by the style sheet: no text of the link's own). */
  function extensionIcon(/** @type {Extension} */ extension) {
    const letter = (extension.title || extension.name).replace(/^.*\//, "").charAt(0).toUpperCase();
    const fallback = h("span", { class: "icon letter", "data-letter": letter, "aria-hidden": "true" });
    if (!extension.icon) return fallback;
    const image = h("img", { class: "icon", src: extension.icon, alt: "" });
    image.addEventListener("error", () => image.replaceWith(fallback), { once: true });
    return image;
  }

  // ------------------------------------------------------------------------------------------
  // The connection to the daemon

  /** "connecting", "live", "offline" or "signed-out", with a line saying so, in the top bar. */
  function setConnection(/** @type {string} */ state, /** @type {string} */ text) {
    const badge = $("connection");
    badge.dataset.state = state;
    $("connection-text").textContent = text;
  }

  /** @returns {string} this origin's page credential ("" when the browser is not signed in) */
  function storedCredential() {
    try {
      return localStorage.getItem(CREDENTIAL_KEY) || "";
    } catch {
      return "";
    }
  }

  /**
   * JSON-RPC 2.0 over one WebSocket. Calls made while it is not open wait until it is; calls
   * in flight when it drops are rejected (the daemon may still finish them: the list shows).
   * It reconnects with a growing delay, except when the daemon refused the credential.
   */
  class Rpc {
    /**
     * @param {(method: string, params: any) => void} onNotification
     * @param {() => void} onOpen called each time the socket opens
     * @param {(reason: string) => void} onRefused called when the daemon refuses this page
     */
    constructor(onNotification, onOpen, onRefused) {
      this.onNotification = onNotification;
      this.onOpen = onOpen;
      this.onRefused = onRefused;
      /** @type {WebSocket | null} */
      this.socket = null;
      this.nextId = 1;
      /** @type {Map<number, Pending>} */
      this.pending = new Map();
      /** @type {string[]} frames waiting for the socket to open */
      this.outbox = [];
      this.delay = RECONNECT_MIN_MS;
      this.refused = false;
    }

    /**
     * @param {string} method
     * @param {object} params
     * @returns {Promise<any>}
     */
    call(method, params) {
      if (this.refused) return Promise.reject(new Error("not signed in to ddbridge host"));
      return new Promise((resolve, reject) => {
        const id = this.nextId++;
        this.pending.set(id, { resolve, reject });
        this.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
      });
    }

    /** @param {string} frame */
    send(frame) {
      if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(frame);
      else this.outbox.push(frame);
    }

    connect() {
      setConnection("connecting", "connecting…");
      const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/rpc`;
      const credential = storedCredential();
      const socket = new WebSocket(url, credential ? ["ddbridge", `ddbridge.credential.${credential}`] : ["ddbridge"]);
      this.socket = socket;
      socket.addEventListener("open", () => {
        this.delay = RECONNECT_MIN_MS;
        setConnection("live", "connected");
        for (const frame of this.outbox.splice(0)) socket.send(frame);
        this.onOpen();
      });
      socket.addEventListener("message", (event) => this.receive(String(event.data)));
      socket.addEventListener("close", (event) => this.closed(socket, event.code, event.reason));
    }

    /** @param {string} text */
    receive(text) {
      /** @type {any} */
      let message;
      try {
        message = JSON.parse(text);
      } catch {
        console.warn("ddbridge host: a frame that is not JSON:", text.slice(0, 200));
        return;
      }
      if (typeof message.method === "string" && message.id === undefined) {
        this.onNotification(message.method, message.params);
        return;
      }
      const pending = this.pending.get(message.id);
      if (!pending) return;
      this.pending.delete(message.id);
      if (message.error) {
        /** @type {RpcError} */
        const error = message.error;
        pending.reject(Object.assign(new Error(error.message || `error ${error.code}`), { code: error.code }));
      } else {
        pending.resolve(message.result);
      }
    }

    /**
     * @param {WebSocket} socket
     * @param {number} code
     * @param {string} reason
     */
    closed(socket, code, reason) {
      if (this.socket !== socket) return;
      this.socket = null;
      const lost = new Error("the connection to ddbridge host was lost before it answered");
      for (const pending of this.pending.values()) pending.reject(lost);
      this.pending.clear();
      if (code === UNAUTHENTICATED_CLOSE_CODE) {
        this.refused = true;
        this.outbox = [];
        setConnection("signed-out", "not signed in");
        this.onRefused(reason);
        return;
      }
      const wait = this.delay * (0.8 + Math.random() * 0.4);
      this.delay = Math.min(this.delay * 2, RECONNECT_MAX_MS);
      setConnection("offline", `offline · retrying in ${(wait / 1000).toFixed(1)} s`);
      setTimeout(() => this.connect(), wait);
    }
  }

  // ------------------------------------------------------------------------------------------
  // What the page knows

  /** @type {Extension[] | null} null until the first list arrives */
  let extensions = null;
  /** @type {Map<string, Framed>} the extensions framed so far, by name (kept while hidden) */
  const framed = new Map();
  /** @type {Set<string>} the extensions an extensions.open call is on its way for */
  const opening = new Set();
  /** @type {Map<string, string>} why an extension could not be opened, by name (until the next list) */
  const openErrors = new Map();
  /** @type {Set<string>} extensions an operation is changing now */
  const busy = new Set();
  /** @type {Map<string, OperationCard>} operations in flight, by id */
  const operations = new Map();
  /** @type {HTMLIFrameElement | null} */
  let dockerFrame = null;
  let operationCount = 0;
  /** @type {ReturnType<typeof setTimeout> | null} */
  let refreshTimer = null;
  /** @type {Promise<void> | null} */
  let refreshing = null;
  let refreshAgain = false;

  /** @param {string} name */
  const findExtension = (name) => (extensions || []).find((extension) => extension.name === name);

  const rpc = new Rpc(
    (method, params) => {
      if (method === "extensions.progress" && params && typeof params === "object") {
        operations.get(String(params.operation))?.event(params.event);
      }
    },
    () => refresh(),
    (reason) => showNotice(
      "Not signed in",
      "This browser is not signed in to ddbridge host: open the URL ddbridge host printed " +
        `(${location.origin}/?token=…) in this browser.${reason ? ` (${reason})` : ""}`,
    ),
  );

  /** The list, again; calls made while one is on its way share the next one. */
  function refresh() {
    if (refreshing) {
      refreshAgain = true;
      return refreshing;
    }
    if (refreshTimer !== null) clearTimeout(refreshTimer);
    refreshTimer = null;
    refreshing = rpc.call("extensions.list", {}).then(
      (/** @type {Extension[]} */ listed) => {
        extensions = listed;
        openErrors.clear();
        render();
      },
      (error) => console.warn("ddbridge host: extensions.list:", errorText(error)),
    ).finally(() => {
      refreshing = null;
      if (refreshAgain) {
        refreshAgain = false;
        refresh();
      } else if ((extensions || []).some((extension) => extension.status === "starting")) {
        refreshTimer = setTimeout(refresh, STARTING_REFRESH_MS);
      }
    });
    return refreshing;
  }

  // ------------------------------------------------------------------------------------------
  // Routes

  /** @returns {string} the route in the hash ("containers", "extension/<name>", …), "" if none */
  function currentRoute() {
    const path = location.hash.replace(/^#\/?/, "");
    if (path.startsWith("extension/")) {
      try {
        return `extension/${decodeURIComponent(path.slice("extension/".length))}`;
      } catch {
        return "";
      }
    }
    return [...DOCKER_PAGES, "extensions"].includes(path) ? path : "";
  }

  /** @param {string} name @returns {string} the hash of an extension's route (its name's '/' and ':' kept) */
  function extensionHash(name) {
    return `#/extension/${encodeURIComponent(name).replace(/%2F/gi, "/").replace(/%3A/gi, ":")}`;
  }

  /** @param {string} hash */
  function go(hash) {
    if (location.hash === hash) render();
    else location.hash = hash;
  }

  /** Shows the view of the current route (or picks one: the Extensions page when none is installed). */
  function render() {
    renderNavigation();
    renderInstalled();
    if ($("notice").dataset.sticky) return;
    let route = currentRoute();
    if (!route) {
      if (extensions === null) return;
      route = extensions.length ? "containers" : "extensions";
      history.replaceState(null, "", route === "containers" ? "#/containers" : "#/extensions");
    }
    for (const link of document.querySelectorAll(".sidebar .nav")) {
      const active = /** @type {HTMLElement} */ (link).dataset.route === route;
      link.classList.toggle("active", active);
      if (active) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    // The operations' cards: in the Extensions page's flow there, over the other views elsewhere.
    const inPage = route === "extensions";
    const slot = inPage ? $("page-operations") : document.body;
    if (operationsBox.parentElement !== slot) slot.append(operationsBox);
    operationsBox.classList.toggle("docked", !inPage);
    if (route.startsWith("extension/")) showExtension(route.slice("extension/".length));
    else if (route === "extensions") showView("extensions-page", "Extensions");
    else showDockerPage(route);
  }

  /**
   * Shows one of the main area's views, hides the others.
   * @param {string} id
   * @param {string} title the tab's title
   */
  function showView(id, title) {
    for (const view of main.querySelectorAll(".view")) /** @type {HTMLElement} */ (view).hidden = view.id !== id;
    document.title = `${title} · ddbridge host`;
  }

  /**
   * A page the main area shows instead of the route's (the daemon refused this page: sticky).
   * @param {string} title
   * @param {string} text
   * @param {boolean} [sticky]
   */
  function showNotice(title, text, sticky = true) {
    $("notice-title").textContent = title;
    $("notice-text").textContent = text;
    if (sticky) $("notice").dataset.sticky = "1";
    showView("notice", title);
  }

  /** @param {string} page "containers", "images" or "volumes" */
  function showDockerPage(page, reset = false) {
    const src = `/_ddbridge/docker/${page}`;
    if (dockerFrame === null) {
      dockerFrame = h("iframe", { class: "docker-frame", title: "Docker", src });
      $("docker-view").append(dockerFrame);
    } else if (reset || dockerFrame.dataset.page !== page) {
      dockerFrame.src = src;
    }
    dockerFrame.dataset.page = page;
    showView("docker-view", page.charAt(0).toUpperCase() + page.slice(1));
  }

  /** @param {string} name */
  function showExtension(name) {
    const extension = findExtension(name);
    if (extensions !== null && extension === undefined) {
      showNotice("Not installed", `${name} is not installed on this host: Manage extensions lists what is.`, false);
      return;
    }
    showView("extension-view", extension ? extension.title : name);
    const banner = $("extension-banner");
    const problem = openErrors.get(name);
    banner.replaceChildren();
    banner.className = "banner";
    if (problem) {
      banner.classList.add("failed");
      banner.append(h("strong", null, `${extension ? extension.title : name} cannot be opened: `), problem);
    } else if (extension && extension.status === "failed") {
      banner.classList.add("failed");
      banner.append(h("strong", null, "Its backend failed: "), extension.error || "no reason given");
    } else if (extension && extension.status === "starting") {
      banner.classList.add("starting");
      banner.append("Its backend is starting…");
    } else if (extension && extension.status === "stopped") {
      banner.append("Its backend is stopped.");
    }
    banner.hidden = banner.childNodes.length === 0;
    for (const [framedName, entry] of framed) entry.frame.hidden = framedName !== name;
    if (!framed.has(name) && !opening.has(name) && !problem && extension) openFrame(extension);
  }

  /** Frames an extension: extensions.open gives the URL that signs the frame in on its origin. */
  function openFrame(/** @type {Extension} */ extension) {
    const name = extension.name;
    opening.add(name);
    rpc.call("extensions.open", { name }).then(
      (/** @type {Opened} */ opened) => {
        const frame = h("iframe", {
          class: "extension-frame",
          title: extension.title,
          src: opened.url,
          allow: "clipboard-read; clipboard-write",
        });
        framed.set(name, { frame, opened });
        framesBox.append(frame);
      },
      (error) => {
        openErrors.set(name, errorText(error));
      },
    ).finally(() => {
      opening.delete(name);
      render();
    });
  }

  /** Drops an extension's frame (removed, or updated: its next showing loads it afresh). */
  function unframe(/** @type {string} */ name) {
    framed.get(name)?.frame.remove();
    framed.delete(name);
    openErrors.delete(name);
  }

  // The shim of a framed extension asks its parent for its credential: answered for that frame
  // only (its window, on the origin it was opened on), and to that origin only.
  window.addEventListener("message", (event) => {
    const data = event.data;
    if (!data || typeof data !== "object" || data.ddbridgeCredentialRequest !== true) return;
    for (const { frame, opened } of framed.values()) {
      if (event.source !== null && event.source === frame.contentWindow && event.origin === opened.origin) {
        frame.contentWindow.postMessage({ ddbridgeCredential: opened.credential }, opened.origin);
        return;
      }
    }
  });

  // ------------------------------------------------------------------------------------------
  // The navigation and the installed list

  let drawnNavigation = "";

  function renderNavigation() {
    const listed = extensions || [];
    const drawn = JSON.stringify(listed.map((extension) => [extension.name, extension.title, extension.icon, extension.status, extension.error]));
    if (drawn === drawnNavigation) return;
    drawnNavigation = drawn;
    extensionLinks.replaceChildren(...listed.map((extension) => {
      const status = extension.status === "running" ? null
        : h("span", { class: `badge ${extension.status}`, title: extension.error || STATUS_LABELS[extension.status] },
          h("span", { class: "visually-hidden" }, STATUS_LABELS[extension.status] || extension.status));
      return h("a", {
        class: "nav extension",
        href: extensionHash(extension.name),
        "data-route": `extension/${extension.name}`,
        title: extension.name,
      }, extensionIcon(extension), h("span", { class: "label" }, extension.title), status);
    }));
    // The new links carry no "active" class yet: render() sets it after this.
  }

  let drawnInstalled = "";

  function renderInstalled() {
    const listed = extensions;
    const box = $("installed");
    if (listed === null) {
      box.replaceChildren(h("div", { class: "card empty" }, "Loading…"));
      return;
    }
    const drawn = JSON.stringify([listed, [...busy]]);
    if (drawn === drawnInstalled) return;
    drawnInstalled = drawn;
    if (listed.length === 0) {
      box.replaceChildren(h("div", { class: "card empty" }, "No extension is installed yet: install one above by its image reference."));
      return;
    }
    box.replaceChildren(h("div", { class: "card" },
      h("table", { class: "installed" },
        h("thead", null, h("tr", null,
          h("th", null, "Extension"), h("th", null, "Version"), h("th", null, "Provider"),
          h("th", null, "Status"), h("th", { class: "actions" }, h("span", { class: "visually-hidden" }, "Actions")))),
        h("tbody", null, listed.map(installedRow)))));
  }

  /** @param {Extension} extension */
  function installedRow(extension) {
    const changing = busy.has(extension.name);
    const backend = extension.containers && extension.containers.length
      ? h("span", { class: "sub" }, `backend: ${extension.containers.join(", ")}`) : null;
    return h("tr", { "data-name": extension.name },
      h("td", null, h("div", { class: "who" },
        extensionIcon(extension),
        h("div", null,
          h("a", { class: "title", href: extensionHash(extension.name) }, extension.title),
          h("span", { class: "sub mono" }, extension.image)))),
      h("td", { class: "mono" }, extension.version),
      h("td", null, extension.provider),
      h("td", null,
        h("span", { class: `chip ${extension.status}` }, STATUS_LABELS[extension.status] || extension.status),
        extension.status === "failed" && extension.error ? h("span", { class: "sub error" }, extension.error) : null,
        extension.uiSource ? h("span", { class: "sub" }, `UI from ${extension.uiSource}`) : null,
        backend),
      h("td", { class: "actions" },
        h("button", { type: "button", disabled: changing, onclick: () => askUpdate(extension) }, "Update"),
        h("button", { type: "button", class: "danger", disabled: changing, onclick: () => remove(extension) }, "Remove")));
  }

  // ------------------------------------------------------------------------------------------
  // Operations: install, update, remove, with their progress

  /**
   * An operation's card, drawn from its progress events in the order they come, as the CLI
   * prints them: the steps (title, state, elapsed, detail) with a pull's layers under the step
   * that pulls, the daemon's notes and warnings, and how it ended. A card that succeeded folds
   * to its title and outcome, then goes; one that failed stays until it is dismissed.
   */
  class OperationCard {
    /** @param {string} title */
    constructor(title) {
      this.started = performance.now();
      this.hovered = false;
      this.elapsed = h("span", { class: "elapsed" });
      this.log = h("ol", { class: "log" });
      this.outcome = h("p", { class: "outcome" }, "Working…");
      this.toggle = h("button", {
        type: "button", class: "toggle", "aria-expanded": "true", title: "Show or hide the steps",
        onclick: () => this.fold(this.toggle.getAttribute("aria-expanded") === "true"),
      }, "Details");
      this.element = h("section", { class: "operation running", "aria-label": title },
        h("div", { class: "operation-head" },
          h("span", { class: "spinner", "aria-hidden": "true" }),
          h("strong", null, title),
          this.elapsed,
          this.toggle,
          h("button", { type: "button", class: "dismiss", title: "Dismiss", "aria-label": "Dismiss", onclick: () => this.dismiss() }, "×")),
        this.log, this.outcome);
      /** @type {Map<string, {element: HTMLElement, started: number, elapsed: HTMLElement, detail: HTMLElement, layers: HTMLElement | null}>} */
      this.running = new Map();
      /** @type {Map<string, {element: HTMLElement, status: HTMLElement, bar: HTMLProgressElement, size: HTMLElement}>} */
      this.layers = new Map();
      /** @type {HTMLElement | null} layers that came while no step ran */
      this.looseLayers = null;
      this.ticker = setInterval(() => this.tick(), TICK_MS);
      this.element.addEventListener("pointerenter", () => { this.hovered = true; });
      this.element.addEventListener("pointerleave", () => { this.hovered = false; });
      operationsBox.prepend(this.element);
    }

    tick() {
      const now = performance.now();
      this.elapsed.textContent = formatElapsed((now - this.started) / 1000);
      for (const step of this.running.values()) step.elapsed.textContent = formatElapsed((now - step.started) / 1000);
    }

    /** @param {ProgressEvent_} event */
    event(event) {
      if (!event || typeof event !== "object") return;
      if (event.kind === "step") this.step(event);
      else if (event.kind === "layer") this.layer(event);
      else if (event.kind === "info" || event.kind === "warn" || event.kind === "fail") {
        this.log.append(h("li", { class: `message ${event.kind}` }, String(event.message)));
      }
    }

    /** @param {StepEvent} event */
    step(event) {
      const title = String(event.title);
      let step = this.running.get(title);
      if (event.state === "start" || !step) {
        const elapsed = h("span", { class: "step-elapsed" });
        const detail = h("span", { class: "step-detail" });
        const element = h("li", { class: "step running" },
          h("span", { class: "mark", "aria-hidden": "true" }),
          h("span", { class: "step-title" }, title),
          h("span", { class: "visually-hidden step-state" }, "running"),
          elapsed, detail);
        step = { element, elapsed, detail, layers: null, started: performance.now() - (Number(event.elapsed) || 0) * 1000 };
        this.running.set(title, step);
        this.log.append(element);
      }
      step.detail.textContent = event.detail ? String(event.detail) : "";
      if (event.state === "done" || event.state === "failed") {
        this.running.delete(title);
        step.element.classList.replace("running", event.state);
        /** @type {HTMLElement} */ (step.element.querySelector(".step-state")).textContent = event.state;
        step.elapsed.textContent = formatElapsed(Number(event.elapsed) || 0);
      }
    }

    /** @param {LayerEvent} event */
    layer(event) {
      const id = String(event.id);
      let layer = this.layers.get(id);
      if (!layer) {
        const status = h("span", { class: "layer-status" });
        const bar = h("progress", { class: "layer-bar", max: 1, value: 0 });
        const size = h("span", { class: "layer-size" });
        const element = h("li", { class: "layer" }, h("span", { class: "layer-id mono" }, id), status, bar, size);
        layer = { element, status, bar, size };
        this.layers.set(id, layer);
        this.layerList().append(element);
      }
      const current = Number(event.current) || 0;
      const total = Number(event.total) || 0;
      const finished = LAYER_DONE.includes(String(event.status));
      layer.status.textContent = String(event.status);
      layer.element.classList.toggle("done", finished);
      if (total > 0) {
        layer.bar.max = total;
        layer.bar.value = Math.min(current, total);
        layer.size.textContent = `${formatBytes(current)} / ${formatBytes(total)}`;
      } else if (finished) {
        layer.bar.max = 1;
        layer.bar.value = 1;
      }
    }

    /** @returns {HTMLElement} where a layer goes: under the step running now (the pull) */
    layerList() {
      const steps = [...this.running.values()];
      const step = steps[steps.length - 1];
      if (step) {
        if (!step.layers) {
          step.layers = h("ul", { class: "layers" });
          step.element.append(step.layers);
        }
        return step.layers;
      }
      if (!this.looseLayers) {
        this.looseLayers = h("ul", { class: "layers" });
        this.log.append(h("li", null, this.looseLayers));
      }
      return this.looseLayers;
    }

    /** @param {string | null} error how it failed, null when it did not */
    finish(error) {
      clearInterval(this.ticker);
      this.tick();
      this.element.classList.replace("running", error === null ? "done" : "failed");
      this.outcome.textContent = error === null ? "Done." : error;
      if (error !== null) {
        this.outcome.setAttribute("role", "alert");
        return;
      }
      this.later(DONE_FOLD_MS, () => this.fold(true));
      this.later(DONE_CARD_MS, () => this.dismiss());
    }

    /** @param {number} delay @param {() => void} then done when the pointer is not on the card */
    later(delay, then) {
      setTimeout(() => (this.hovered ? this.later(delay / 4, then) : then()), delay);
    }

    /** @param {boolean} folded */
    fold(folded) {
      this.element.classList.toggle("folded", folded);
      this.toggle.setAttribute("aria-expanded", String(!folded));
    }

    dismiss() {
      clearInterval(this.ticker);
      this.element.remove();
    }
  }

  /**
   * Runs extensions.<verb> with a card showing its progress; the list is asked again after.
   * @param {"install" | "update" | "remove"} verb
   * @param {string} title the card's title
   * @param {Record<string, unknown>} params
   * @param {string} name the extension it changes, busy meanwhile ("" while unknown)
   * @param {(result: any) => string[]} [notes] lines the card adds once it succeeded
   * @returns {Promise<any>} the result; rejected (the card says why) when it failed
   */
  async function runOperation(verb, title, params, name, notes) {
    operationCount += 1;
    const operation = `${verb}-${Date.now().toString(36)}-${operationCount}`;
    const card = new OperationCard(title);
    operations.set(operation, card);
    if (name) busy.add(name);
    renderInstalled();
    try {
      const result = await rpc.call(`extensions.${verb}`, { ...params, operation });
      for (const note of notes ? notes(result) : []) card.event({ kind: "info", message: note });
      card.finish(null);
      return result;
    } catch (error) {
      card.finish(errorText(error));
      throw error;
    } finally {
      operations.delete(operation);
      busy.delete(name);
      await refresh();
    }
  }

  installForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const image = installImage.value.trim();
    if (!image) return;
    /** @type {Extension} */
    let installed;
    try {
      installed = await runOperation("install", `Installing ${image}`, { image, pull: installPull.checked }, "");
    } catch {
      return; // its card says why
    }
    if (installImage.value.trim() === image) installImage.value = "";
    go(extensionHash(installed.name));
  });

  /** @type {Extension | null} the extension the update dialog is for */
  let updating = null;

  /** Asks for the new reference (the same repository, by default: only its tag to change). */
  function askUpdate(/** @type {Extension} */ extension) {
    updating = extension;
    $("update-title").textContent = `Update ${extension.title}`;
    $("update-hint").textContent = `Now ${extension.image}. A reference of another repository is another extension: install it instead.`;
    updateImage.value = extension.image;
    updatePull.checked = true;
    updateDialog.showModal();
    const tag = extension.image.length - repositoryOf(extension.image).length;
    updateImage.setSelectionRange(extension.image.length - Math.max(tag - 1, 0), extension.image.length);
  }

  updateForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const extension = updating;
    let image = updateImage.value.trim();
    if (!extension || !image) return;
    // ":TAG" or "@DIGEST" alone: of the extension's own repository.
    if (image.startsWith(":") || image.startsWith("@")) image = repositoryOf(extension.image) + image;
    updateDialog.close();
    runOperation("update", `Updating ${extension.title} to ${image}`, { image, pull: updatePull.checked }, extension.name).then(
      (/** @type {Extension} */ updated) => {
        unframe(updated.name);
        render();
      },
      () => {}, // its card says why
    );
  });

  $("update-cancel").addEventListener("click", () => updateDialog.close());
  updateDialog.addEventListener("close", () => { updating = null; }); // Escape closes it too

  async function remove(/** @type {Extension} */ extension) {
    const question = `Remove ${extension.title} (${extension.image})?\n\n` +
      "Its containers, files and host binaries are removed; its named volumes are kept.";
    if (!window.confirm(question)) return;
    /** What the CLI says of them too: each named volume kept, and how to remove it. */
    const kept = (/** @type {{keptVolumes?: string[]}} */ result) => (result.keptVolumes || []).map(
      (volume) => `Kept the named volume ${volume} (remove it with: docker volume rm ${volume})`);
    try {
      await runOperation("remove", `Removing ${extension.title}`, { name: extension.name }, extension.name, kept);
    } catch {
      return; // its card says why
    }
    unframe(extension.name);
    if (currentRoute() === `extension/${extension.name}`) go("#/extensions");
  }

  // ------------------------------------------------------------------------------------------
  // Start

  window.addEventListener("hashchange", () => render());
  // A click on the item already shown brings a Docker page back to its list.
  document.querySelector(".sidebar")?.addEventListener("click", (event) => {
    const link = /** @type {HTMLElement} */ (event.target).closest("a.nav");
    const route = link instanceof HTMLAnchorElement ? link.dataset.route : undefined;
    if (route && route === currentRoute() && DOCKER_PAGES.some((page) => page === route)) showDockerPage(route, true);
  });
  render();
  rpc.connect();
})();
