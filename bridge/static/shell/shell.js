// The extensions host's page: Docker Desktop's window, with every installed extension in a frame
// of its own origin. It speaks JSON-RPC over the host's /rpc with the page credential the login
// page stored, calls the management methods (extensions.*), and hands each framed extension page
// its own credential when it asks (it is a third-party frame there, which the browser may deny
// storage). Server text only ever goes in as text, never as markup.
"use strict";

(() => {
  const CREDENTIAL_KEY = "ddbridge.credential";
  const DOCKER_PAGES = { containers: "Containers", images: "Images", volumes: "Volumes" };
  const CONSENT =
    "Extensions can install binaries, invoke commands, access files on your machine and connect to remote URLs.";
  const main = /** @type {HTMLElement} */ (document.getElementById("main"));
  const links = /** @type {HTMLElement} */ (document.getElementById("extension-links"));
  const connection = /** @type {HTMLElement} */ (document.getElementById("connection"));

  /**
   * @typedef {object} Entry what extensions.list says of one extension
   * @property {string} name
   * @property {string} image
   * @property {string} title
   * @property {string} provider
   * @property {string} version
   * @property {string} origin
   * @property {string} status
   * @property {string} error
   * @property {string} icon
   * @property {string[]} ui
   * @property {string[] | null} containers
   * @property {string[]} hostBinaries
   */

  /**
   * @param {string} tag
   * @param {Record<string, string>} [attributes]
   * @param {(Node | string)[]} [children]
   * @returns {HTMLElement}
   */
  function element(tag, attributes = {}, children = []) {
    const made = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) made.setAttribute(name, value);
    made.append(...children);
    return made;
  }

  // ---------------------------------------------------------------------------------------
  // The RPC connection

  class Rpc {
    constructor() {
      /** @type {Map<number, {resolve: (value: any) => void, reject: (error: Error) => void}>} */
      this.pending = new Map();
      /** @type {Map<string, (event: any) => void>} */
      this.operations = new Map();
      this.nextId = 1;
      /** @type {Promise<WebSocket> | null} */
      this.opening = null;
    }

    /** @returns {Promise<WebSocket>} */
    socket() {
      if (this.opening) return this.opening;
      const credential = localStorage.getItem(CREDENTIAL_KEY) || "";
      this.opening = new Promise((resolve, reject) => {
        const protocols = credential ? ["ddbridge", `ddbridge.credential.${credential}`] : ["ddbridge"];
        const scheme = location.protocol === "https:" ? "wss:" : "ws:";
        const socket = new WebSocket(`${scheme}//${location.host}/rpc`, protocols);
        socket.onopen = () => {
          showConnection("");
          resolve(socket);
        };
        socket.onmessage = (event) => this.receive(String(event.data));
        socket.onclose = (event) => {
          this.opening = null;
          const why = event.reason || (credential ? "the host is not answering" : "not signed in");
          const error = new Error(`ddbridge: ${why}`);
          for (const call of this.pending.values()) call.reject(error);
          this.pending.clear();
          showConnection(credential ? `Disconnected: ${why}` : "Not signed in: open the URL ddbridge host printed (…?token=…)");
          reject(error);
        };
      });
      return this.opening;
    }

    /** @param {string} text */
    receive(text) {
      const message = JSON.parse(text);
      if (message.method === "extensions.progress") {
        const listener = this.operations.get(message.params.operation);
        if (listener) listener(message.params.event);
        return;
      }
      const call = this.pending.get(message.id);
      if (!call) return;
      this.pending.delete(message.id);
      if (message.error) call.reject(new Error(message.error.message));
      else call.resolve(message.result);
    }

    /**
     * @param {string} method
     * @param {Record<string, unknown>} [params]
     * @param {(event: any) => void} [onProgress] the operation's progress events
     * @returns {Promise<any>}
     */
    async call(method, params = {}, onProgress) {
      const socket = await this.socket();
      const id = this.nextId++;
      const operation = onProgress ? `op-${id}` : "";
      if (onProgress) this.operations.set(operation, onProgress);
      try {
        return await new Promise((resolve, reject) => {
          this.pending.set(id, { resolve, reject });
          socket.send(JSON.stringify({ jsonrpc: "2.0", id, method, params: onProgress ? { ...params, operation } : params }));
        });
      } finally {
        this.operations.delete(operation);
      }
    }
  }

  const rpc = new Rpc();

  /** @param {string} text */
  function showConnection(text) {
    connection.textContent = text;
    connection.hidden = !text;
  }

  // ---------------------------------------------------------------------------------------
  // The installed extensions, and each one's frame

  /** @type {Entry[]} */
  let installed = [];
  /** @type {Map<string, {frame: HTMLIFrameElement, origin: string, credential: string}>} */
  const frames = new Map();

  async function refresh() {
    try {
      installed = await rpc.call("extensions.list");
    } catch {
      return;
    }
    renderLinks();
    if (route().kind === "extensions") renderManagement();
    if (installed.some((entry) => entry.status === "starting")) setTimeout(refresh, 2000);
  }

  function renderLinks() {
    const current = route();
    links.replaceChildren(
      ...installed.map((entry) => {
        const icon = element("img", { src: entry.icon, alt: "", width: "20", height: "20" });
        const link = element("a", { class: "nav extension", href: `#/extension/${encodeURIComponent(entry.name)}` }, [
          icon,
          element("span", { class: "label" }, [entry.title]),
        ]);
        if (entry.status !== "running") {
          link.append(element("span", { class: `badge ${entry.status}`, title: entry.error || entry.status }, [entry.status]));
        }
        if (current.kind === "extension" && current.name === entry.name) link.setAttribute("aria-current", "page");
        return link;
      }),
    );
    for (const item of document.querySelectorAll(".sidebar > .nav")) {
      const selected = item.getAttribute("data-route") === current.kind;
      if (selected) item.setAttribute("aria-current", "page");
      else item.removeAttribute("aria-current");
    }
  }

  /** @param {MessageEvent} event */
  function answerCredentialRequest(event) {
    if (!event.data || event.data.ddbridgeCredentialRequest !== true) return;
    for (const framed of frames.values()) {
      const target = framed.frame.contentWindow;
      if (target && event.source === target && event.origin === framed.origin) {
        // To that frame, at that origin only: a frame navigated elsewhere gets nothing.
        target.postMessage({ ddbridgeCredential: framed.credential }, framed.origin);
        return;
      }
    }
  }

  /** @param {string} name */
  async function showExtension(name) {
    for (const framed of frames.values()) framed.frame.hidden = true;
    let framed = frames.get(name);
    if (!framed) {
      /** @type {{origin: string, url: string, credential: string}} */
      let opened;
      try {
        opened = await rpc.call("extensions.open", { name });
      } catch (error) {
        showMessage(String(/** @type {Error} */ (error).message));
        return;
      }
      const frame = /** @type {HTMLIFrameElement} */ (
        element("iframe", { class: "extension-frame", title: name, allow: "clipboard-read; clipboard-write" })
      );
      frame.src = opened.url;
      framed = { frame, origin: opened.origin, credential: opened.credential };
      frames.set(name, framed);
    }
    for (const child of [...main.children]) if (!child.classList.contains("extension-frame")) child.remove();
    if (!framed.frame.isConnected) main.append(framed.frame);
    framed.frame.hidden = false;
  }

  /** @param {string} text */
  function showMessage(text) {
    hideFrames();
    main.replaceChildren(element("p", { class: "message" }, [text]));
  }

  function hideFrames() {
    for (const framed of frames.values()) framed.frame.hidden = true;
  }

  /** @param {string} page */
  function showDockerPage(page) {
    hideFrames();
    for (const child of [...main.children]) if (!child.classList.contains("extension-frame")) child.remove();
    main.append(element("iframe", { class: "docker-frame", title: DOCKER_PAGES[/** @type {keyof typeof DOCKER_PAGES} */ (page)], src: `/_ddbridge/docker/${page}` }));
  }

  // ---------------------------------------------------------------------------------------
  // The Extensions page

  /** @type {HTMLElement | null} */
  let progressPanel = null;

  function renderManagement() {
    hideFrames();
    for (const child of [...main.children]) if (!child.classList.contains("extension-frame")) child.remove();
    const reference = /** @type {HTMLInputElement} */ (
      element("input", { id: "install-image", type: "text", placeholder: "docker/logs-explorer-extension:0.2.6", required: "", spellcheck: "false" })
    );
    const pull = /** @type {HTMLInputElement} */ (element("input", { id: "install-pull", type: "checkbox" }));
    pull.checked = true;
    const install = element("button", { type: "submit", class: "primary" }, ["Install"]);
    const form = element("form", { class: "install" }, [
      element("label", { for: "install-image" }, ["Image"]),
      reference,
      element("label", { class: "check" }, [pull, "Pull the image if it is missing"]),
      install,
      element("p", { class: "warning" }, [CONSENT]),
    ]);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const image = reference.value.trim();
      if (image) operate(`Installing ${image}`, "extensions.install", { image, pull: pull.checked }, (entry, outcome) => {
        outcome.append(" ", element("a", { class: "open", href: `#/extension/${encodeURIComponent(entry.name)}` }, [`Open ${entry.title}`]));
      });
    });
    const rows = installed.map((entry) => managementRow(entry));
    const table = element("table", { class: "installed" }, [
      element("thead", {}, [element("tr", {}, ["", "Extension", "Version", "Provider", "Status", ""].map((text) => element("th", {}, [text])))]),
      element("tbody", {}, rows.length ? rows : [element("tr", {}, [element("td", { colspan: "6", class: "muted" }, ["No extension is installed yet."])])]),
    ]);
    progressPanel = progressPanel || element("section", { class: "progress", "aria-live": "polite" });
    main.append(
      element("section", { class: "management" }, [
        element("h1", {}, ["Extensions"]),
        element("h2", {}, ["Installed"]),
        table,
        element("h2", {}, ["Install an extension"]),
        form,
        progressPanel,
      ]),
    );
  }

  /**
   * @param {Entry} entry
   * @returns {HTMLElement}
   */
  function managementRow(entry) {
    const update = element("button", { type: "button" }, ["Update"]);
    update.addEventListener("click", () => {
      const image = prompt(`Update ${entry.name} to which image?`, `${entry.name}:`);
      if (image) operate(`Updating ${entry.name}`, "extensions.update", { image, pull: true });
    });
    const remove = element("button", { type: "button", class: "danger" }, ["Remove"]);
    remove.addEventListener("click", () => {
      if (!confirm(`Remove ${entry.title} (${entry.name})? Its named volumes are kept.`)) return;
      operate(`Removing ${entry.name}`, "extensions.remove", { name: entry.name }, (answer, outcome) => {
        frames.get(entry.name)?.frame.remove();
        frames.delete(entry.name);
        if (answer.keptVolumes.length) outcome.append(` Kept the named volumes: ${answer.keptVolumes.join(", ")}.`);
      });
    });
    const status = element("td", {}, [element("span", { class: `badge ${entry.status}` }, [entry.status])]);
    if (entry.error) status.append(element("div", { class: "error" }, [entry.error]));
    return element("tr", {}, [
      element("td", {}, [element("img", { src: entry.icon, alt: "", width: "24", height: "24" })]),
      element("td", {}, [element("div", { class: "title" }, [entry.title]), element("div", { class: "muted" }, [entry.name])]),
      element("td", {}, [entry.version]),
      element("td", {}, [entry.provider || "—"]),
      status,
      element("td", { class: "actions" }, [update, remove]),
    ]);
  }

  /**
   * One management call with its progress shown live: each step (running, done or failed, its
   * detail and time) and each layer of a pull (its status and a bar).
   * @param {string} title
   * @param {string} method
   * @param {Record<string, unknown>} params
   * @param {(result: any, outcome: HTMLElement) => void} [done] more to say once it succeeded
   */
  async function operate(title, method, params, done) {
    if (!progressPanel) return;
    const steps = element("ol", { class: "steps" });
    const layers = element("ul", { class: "layers" });
    const outcome = element("p", { class: "outcome" }, ["…"]);
    const box = element("div", { class: "operation" }, [element("h3", {}, [title]), layers, steps, outcome]);
    progressPanel.prepend(box);
    /** @type {Map<string, HTMLElement>} */
    const stepRows = new Map();
    /** @type {Map<string, HTMLElement>} */
    const layerRows = new Map();
    /** @param {any} event */
    const show = (event) => {
      if (event.kind === "layer") {
        let row = layerRows.get(event.id);
        if (!row) {
          row = element("li", { class: "layer" });
          layerRows.set(event.id, row);
          layers.append(row);
        }
        // A layer's last events ("Pull complete") carry no sizes: the bar stays where it got to.
        const total = event.total || Number(row.dataset.total) || 1;
        const finished = /complete|exists/i.test(event.status);
        row.dataset.total = String(total);
        const bar = element("progress", { max: String(total), value: String(finished ? total : event.current || 0) });
        row.replaceChildren(element("code", {}, [event.id]), element("span", {}, [event.status]), bar);
      } else if (event.kind === "step") {
        let row = stepRows.get(event.title);
        if (!row) {
          row = element("li", { class: "step" });
          stepRows.set(event.title, row);
          steps.append(row);
        }
        const state = { start: "running", detail: "running", done: "done", failed: "failed" }[/** @type {"start"} */ (event.state)] || "running";
        row.className = `step ${state}`;
        const time = state === "running" ? "" : ` (${Number(event.elapsed).toFixed(1)} s)`;
        row.replaceChildren(element("span", { class: "title" }, [event.title + time]), element("span", { class: "detail" }, [event.detail || ""]));
      } else if (event.message) {
        steps.append(element("li", { class: `line ${event.kind}` }, [event.message]));
      }
    };
    try {
      const result = await rpc.call(method, params, show);
      outcome.textContent = "Done.";
      outcome.className = "outcome done";
      if (done) done(result, outcome);
    } catch (error) {
      outcome.textContent = String(/** @type {Error} */ (error).message);
      outcome.className = "outcome failed";
    }
    await refresh();
  }

  // ---------------------------------------------------------------------------------------
  // Routing: the selected item is the URL's hash, so a reload keeps it

  /** @returns {{kind: string, name?: string}} */
  function route() {
    const hash = decodeURIComponent(location.hash.replace(/^#\/?/, ""));
    if (hash.startsWith("extension/")) return { kind: "extension", name: hash.slice("extension/".length) };
    if (hash in DOCKER_PAGES || hash === "extensions") return { kind: hash };
    return { kind: installed.length ? "extension" : "extensions", name: installed[0]?.name };
  }

  function show() {
    const current = route();
    renderLinks();
    if (current.kind === "extension" && current.name) showExtension(current.name);
    else if (current.kind in DOCKER_PAGES) showDockerPage(current.kind);
    else renderManagement();
  }

  window.addEventListener("message", answerCredentialRequest);
  window.addEventListener("hashchange", show);
  refresh().then(show);
})();
