// The stand-in pages for Docker Desktop's screens (containers, a container's details / logs /
// inspect / stats, images, an image, volumes, a volume) that ddClient's navigation opens.
//
// One shell page serves every view: this script reads location.pathname and draws the view with
// window.ddClient (the shim is first in <head>), the same client API the extension uses. Plain
// script, no build step. Everything the engine returns is untrusted (names, labels, env, logs):
// it reaches the DOM only as text nodes and as attributes set through the DOM API, never as HTML.
"use strict";

(() => {
  const BASE = "/_ddbridge/docker";
  const MAX_LOG_LINES = 5000;
  const LIST_REFRESH_MS = 3000;
  const SPARK_POINTS = 60;
  const dd = window.ddClient;
  const main = /** @type {HTMLElement} */ (document.getElementById("main"));
  // Framed by the extensions host's page, which has the navigation: its own sidebar goes.
  document.documentElement.classList.toggle("framed", window.parent !== window);

  // ------------------------------------------------------------------------------------------
  // DOM helpers

  const { h, formatBytes } = ddbridgeDom; // bridge/static/dom.js, loaded before this script

  /** @param {...string} parts path segments under BASE, each encoded (but for the colon of
   * "sha256:…", spelt as the daemon's navigation URLs spell it) */
  function pageUrl(...parts) {
    return [BASE, ...parts.map((part) => encodeURIComponent(part).replace(/%3A/g, ":"))].join("/");
  }

  const containerUrl = (/** @type {string} */ id, tab = "") => pageUrl("containers", id, ...(tab ? [tab] : []));
  const volumeUrl = (/** @type {string} */ name) => pageUrl("volumes", name);
  /** @param {string} id @param {string} [tag] */
  function imageUrl(id, tag) {
    return pageUrl("images", id) + (tag ? `?tag=${encodeURIComponent(tag)}` : "");
  }

  // What the view opened (streams, timers), undone when the view or tab changes or the page goes.
  /** @type {Array<() => void>} */
  let cleanups = [];
  function onLeave(/** @type {() => void} */ cleanup) {
    cleanups.push(cleanup);
  }
  function leave() {
    const pending = cleanups;
    cleanups = [];
    for (const cleanup of pending) cleanup();
  }
  window.addEventListener("pagehide", leave);

  // ------------------------------------------------------------------------------------------
  // Formatting

  /** The message of a rejection: an Error's, or a failed command's stderr (an ExecResult). */
  function errorText(/** @type {any} */ error) {
    if (error && typeof error.stderr === "string" && error.stderr.trim()) return error.stderr.trim();
    if (error && typeof error.message === "string") return error.message;
    return String(error);
  }

  /** "5 minutes ago" for a Date, unix seconds or an ISO string. */
  function ago(/** @type {Date | number | string} */ when) {
    const date = typeof when === "number" ? new Date(when * 1000) : new Date(when);
    const seconds = Math.round((Date.now() - date.getTime()) / 1000);
    if (!Number.isFinite(seconds) || date.getFullYear() < 1971) return "—";
    const steps = [[60, "second"], [60, "minute"], [24, "hour"], [30, "day"], [12, "month"], [Infinity, "year"]];
    let value = Math.max(seconds, 0);
    for (const [size, name] of steps) {
      if (value < /** @type {number} */ (size)) {
        const whole = Math.floor(value);
        return whole <= 1 && name === "second" ? "just now" : `${whole} ${name}${whole === 1 ? "" : "s"} ago`;
      }
      value /= /** @type {number} */ (size);
    }
    return "—";
  }

  /** @param {string} id a container id or an image's sha256:… id */
  const shortId = (id) => String(id || "").replace(/^sha256:/, "").slice(0, 12);
  const containerName = (/** @type {any} */ container) =>
    String((container.Names && container.Names[0]) || container.Name || container.Id).replace(/^\//, "");

  /** Docker Desktop's "8080:80" for a container's published ports. */
  function portsOf(/** @type {any[]} */ ports) {
    const seen = new Set();
    for (const port of ports || []) {
      if (port.PublicPort) seen.add(`${port.PublicPort}:${port.PrivatePort}`);
    }
    return [...seen].join(", ");
  }

  // ------------------------------------------------------------------------------------------
  // Building blocks

  /** @param {string} title @param {any} [subtitle] @param {any} [crumbs] */
  function pageHead(title, subtitle, crumbs) {
    document.title = `${title} · ddbridge`;
    return h("div", { class: "page-head" },
      h("div", null,
        crumbs ? h("div", { class: "crumbs" }, crumbs) : null,
        h("h1", null, title),
        subtitle ? h("div", { class: "subtitle" }, subtitle) : null));
  }

  /** @param {string} state a container state (running, exited, paused, …) */
  const chip = (state) => h("span", { class: `chip ${state}` }, state);

  /**
   * A table in a card.
   * @param {Array<{title: string, cell: (row: any) => any, class?: string}>} columns
   * @param {any[]} rows
   * @param {string} empty shown when there are no rows
   */
  function table(columns, rows, empty) {
    if (rows.length === 0) return h("div", { class: "card" }, h("div", { class: "empty" }, empty));
    return h("div", { class: "card" },
      h("table", null,
        h("thead", null, h("tr", null, columns.map((column) => h("th", { class: column.class }, column.title)))),
        h("tbody", null, rows.map((row) =>
          h("tr", null, columns.map((column) => h("td", { class: column.class }, column.cell(row))))))));
  }

  /** A key/value grid in a card; rows whose value is empty are left out. */
  function keyValues(/** @type {Array<[string, any]>} */ rows) {
    const shown = rows.filter(([, value]) => value !== undefined && value !== null && value !== ""
      && !(Array.isArray(value) && value.length === 0));
    return h("div", { class: "card kv" },
      shown.flatMap(([key, value]) => [h("div", { class: "k" }, key), h("div", null, value)]));
  }

  /** A list of strings, one per line, in monospace. */
  const monoList = (/** @type {string[]} */ items) =>
    h("ul", { class: "list mono" }, items.map((item) => h("li", null, item)));

  /** `KEY=value` lines of a labels object. */
  const labelList = (/** @type {Record<string, string> | null} */ labels) =>
    monoList(Object.entries(labels || {}).map(([key, value]) => `${key}=${value}`));

  /** @param {string} title @param {...any} content */
  const section = (title, ...content) => h("div", { class: "section" }, h("h2", null, title), content);

  /**
   * JSON, indented and coloured. The text is split into tokens that become text nodes inside
   * spans, so nothing in it is ever parsed as HTML.
   */
  function jsonView(/** @type {any} */ value) {
    const text = JSON.stringify(value, null, 2);
    const pre = h("pre", { class: "json", "data-testid": "inspect-json" });
    const token = /("(?:\\.|[^"\\])*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
    let last = 0;
    for (const match of text.matchAll(token)) {
      const at = /** @type {number} */ (match.index);
      pre.append(text.slice(last, at));
      if (match[1] !== undefined) {
        pre.append(h("span", { class: match[2] ? "key" : "string" }, match[1]));
        if (match[2]) pre.append(match[2]);
      } else {
        pre.append(h("span", { class: match[3] ? "literal" : "number" }, match[0]));
      }
      last = at + match[0].length;
    }
    pre.append(text.slice(last));
    return pre;
  }

  /** Replaces the page with an error panel saying what could not be loaded and why. */
  function showError(/** @type {string} */ what, /** @type {any} */ error) {
    main.replaceChildren(
      pageHead("Not available"),
      h("div", { class: "banner error", role: "alert" }, h("div", null, h("strong", null, what), h("br"),
        errorText(error))));
  }

  /** Calls `load` now and every LIST_REFRESH_MS until the view is left; failures are shown. */
  function poll(/** @type {() => Promise<void>} */ load, /** @type {HTMLElement} */ errorBox) {
    let timer = 0;
    let stopped = false;
    const tick = async () => {
      try {
        await load();
        errorBox.replaceChildren();
      } catch (error) {
        errorBox.replaceChildren(h("div", { class: "banner error", role: "alert" }, errorText(error)));
      }
      if (!stopped) timer = window.setTimeout(tick, LIST_REFRESH_MS);
    };
    onLeave(() => {
      stopped = true;
      window.clearTimeout(timer);
    });
    return tick();
  }

  /** A text filter box; `onChange` gets the lower-cased query. */
  function searchBox(/** @type {(query: string) => void} */ onChange) {
    return h("input", {
      type: "search", class: "search", placeholder: "Search", "aria-label": "Search",
      oninput: (/** @type {Event} */ event) =>
        onChange(/** @type {HTMLInputElement} */ (event.target).value.trim().toLowerCase()),
    });
  }

  /** Runs a docker CLI command and parses its JSON output (an array for inspect). */
  async function dockerJson(/** @type {string} */ cmd, /** @type {string[]} */ args) {
    return (await dd.docker.cli.exec(cmd, args)).parseJsonObject();
  }

  // ------------------------------------------------------------------------------------------
  // Containers

  async function containersView() {
    let query = "";
    let onlyRunning = false;
    /** @type {any[]} */
    let containers = [];
    const body = h("div");
    const errors = h("div");
    const count = h("span", { class: "count" });
    const draw = () => {
      const shown = containers.filter((c) => (!onlyRunning || c.State === "running")
        && (!query || `${containerName(c)} ${c.Image} ${c.Id}`.toLowerCase().includes(query)));
      count.textContent = `${shown.length} of ${containers.length} containers`;
      body.replaceChildren(table([
        {
          title: "Name",
          cell: (c) => [h("span", { class: `dot ${c.State}`, title: c.State }),
            h("a", { href: containerUrl(c.Id), "data-testid": "container-link" }, containerName(c)),
            h("span", { class: "sub mono" }, shortId(c.Id))],
        },
        { title: "Image", cell: (c) => h("a", { href: imageUrl(c.ImageID) }, c.Image) },
        { title: "Status", class: "nowrap", cell: (c) => c.Status },
        { title: "Ports", cell: (c) => portsOf(c.Ports) },
        { title: "Created", class: "nowrap", cell: (c) => ago(c.Created) },
        {
          title: "",
          class: "actions",
          cell: (c) => [h("a", { href: containerUrl(c.Id, "logs") }, "Logs"),
            h("a", { href: containerUrl(c.Id, "inspect") }, "Inspect"),
            h("a", { href: containerUrl(c.Id, "stats") }, "Stats")],
        },
      ], shown, containers.length ? "No container matches." : "No containers yet."));
    };
    main.replaceChildren(
      pageHead("Containers", "Every container of the engine, running or not."),
      h("div", { class: "toolbar" },
        searchBox((value) => { query = value; draw(); }),
        h("label", null, h("input", {
          type: "checkbox",
          onchange: (/** @type {Event} */ event) => {
            onlyRunning = /** @type {HTMLInputElement} */ (event.target).checked;
            draw();
          },
        }), "Only running"),
        count),
      errors, body);
    await poll(async () => {
      containers = await dd.docker.listContainers({ all: true });
      draw();
    }, errors);
  }

  const CONTAINER_TABS = [["", "Details"], ["logs", "Logs"], ["inspect", "Inspect"], ["stats", "Stats"]];

  /** @param {string} id @param {string} tab "", logs, inspect, stats or terminal */
  async function containerView(id, tab) {
    let info;
    try {
      [info] = await dockerJson("inspect", ["--type", "container", id]);
    } catch (error) {
      showError(`Cannot show container ${id}`, error);
      return;
    }
    const name = String(info.Name || info.Id).replace(/^\//, "");
    const state = info.State || {};
    const content = h("div", { "data-testid": "tab-content" });
    const tabs = CONTAINER_TABS.map(([key, label]) => h("a", {
      class: "tab", href: containerUrl(info.Id, key), "data-tab": key,
      onclick: (/** @type {MouseEvent} */ event) => {
        if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
        event.preventDefault();
        history.pushState(null, "", containerUrl(info.Id, key));
        show(key);
      },
    }, label));
    const show = (/** @type {string} */ which) => {
      leave();
      const active = which === "terminal" ? "" : which;
      for (const link of tabs) link.classList.toggle("active", link.dataset.tab === active);
      content.replaceChildren();
      if (which === "logs") logsTab(info, content);
      else if (which === "inspect") inspectTab(info, content);
      else if (which === "stats") statsTab(info, content);
      else detailsTab(info, content, which === "terminal");
    };
    window.onpopstate = () => show(route().tab);
    main.replaceChildren(
      pageHead(name, [chip(state.Status || "unknown"),
        h("span", { class: "mono" }, shortId(info.Id)),
        h("a", { href: imageUrl(info.Image, tagOf(info.Config && info.Config.Image)) },
          (info.Config && info.Config.Image) || shortId(info.Image))],
      h("a", { href: pageUrl("containers") }, "Containers")),
      h("nav", { class: "tabs" }, tabs),
      content);
    show(tab);
  }

  /** "1.2" of "repo:1.2" (not of a registry's port in "host:5000/repo"). */
  function tagOf(/** @type {string | undefined} */ reference) {
    const match = /:([^:/@]+)$/.exec(reference || "");
    return match ? match[1] : "";
  }

  function detailsTab(/** @type {any} */ info, /** @type {HTMLElement} */ box, /** @type {boolean} */ terminal) {
    const state = info.State || {};
    const config = info.Config || {};
    const ports = Object.entries((info.NetworkSettings && info.NetworkSettings.Ports) || {}).map(
      ([port, bindings]) => (bindings || []).length
        ? /** @type {any[]} */ (bindings).map((b) => `${b.HostIp || "0.0.0.0"}:${b.HostPort} → ${port}`).join(", ")
        : port);
    const networks = Object.entries((info.NetworkSettings && info.NetworkSettings.Networks) || {}).map(
      ([network, settings]) => `${network}${settings && settings.IPAddress ? ` (${settings.IPAddress})` : ""}`);
    if (terminal) {
      box.append(h("div", { class: "banner", "data-testid": "terminal-note" }, h("div", null,
        "Docker Desktop opens a terminal in the container here. ddbridge has no terminal emulation: ",
        "run ", h("code", null, `docker exec -it ${String(info.Name).replace(/^\//, "")} sh`),
        " in a terminal of your own.")));
    }
    box.append(keyValues([
      ["Status", [chip(state.Status || "unknown"),
        state.Status === "exited" ? ` exit code ${state.ExitCode}` : ""]],
      ["Id", h("span", { class: "mono" }, info.Id)],
      ["Image", config.Image],
      ["Command", h("span", { class: "mono" }, [info.Path, ...(info.Args || [])].join(" "))],
      ["Created", `${ago(info.Created)} (${info.Created})`],
      ["Started", state.Running ? ago(state.StartedAt) : ""],
      ["Ports", ports.length ? monoList(ports) : ""],
      ["Networks", networks.join(", ")],
      ["Mounts", (info.Mounts || []).length ? h("ul", { class: "list mono" }, info.Mounts.map((/** @type {any} */ m) =>
        h("li", null, m.Type === "volume" ? h("a", { href: volumeUrl(m.Name) }, m.Name) : m.Source,
          ` → ${m.Destination}${m.RW ? "" : " (read-only)"}`))) : ""],
      ["Environment", (config.Env || []).length ? monoList(config.Env) : ""],
      ["Labels", Object.keys(config.Labels || {}).length ? labelList(config.Labels) : ""],
    ]));
  }

  /** Live logs: `docker logs -f --tail 200`, closed when the tab or the page is left. */
  function logsTab(/** @type {any} */ info, /** @type {HTMLElement} */ box) {
    const view = h("pre", { class: "logs", role: "log", "data-testid": "logs" },
      h("span", { class: "placeholder" }, "Waiting for output…"));
    const status = h("span", { class: "live on", "data-testid": "log-status" }, "Live");
    const follow = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", checked: true }));
    box.append(h("div", { class: "log-toolbar" }, status,
      h("label", null, follow, " Follow"), h("span", null, "last 200 lines, then live")), view);
    /** @type {Array<[string, boolean]>} */
    let pending = [];
    let flushTimer = 0;
    let lines = 0;
    // Lines are added in batches: a chatty container must not cost a layout per line.
    const flush = () => {
      flushTimer = 0;
      if (lines === 0 && pending.length) view.replaceChildren();
      const batch = document.createDocumentFragment();
      for (const [text, isError] of pending) batch.append(h("div", { class: isError ? "line stderr" : "line" }, text));
      lines += pending.length;
      pending = [];
      view.append(batch);
      while (lines > MAX_LOG_LINES && view.firstChild) {
        view.firstChild.remove();
        lines -= 1;
      }
      if (follow.checked) view.scrollTop = view.scrollHeight;
    };
    const add = (/** @type {string} */ text, /** @type {boolean} */ isError) => {
      pending.push([text, isError]);
      if (!flushTimer) flushTimer = window.setTimeout(flush, 50);
    };
    const ended = (/** @type {string} */ text) => {
      status.classList.remove("on");
      status.textContent = text;
    };
    const process = dd.docker.cli.exec("logs", ["-f", "--tail", "200", info.Id], {
      stream: {
        splitOutputLines: true,
        onOutput: (/** @type {any} */ data) =>
          (data.stdout !== undefined ? add(data.stdout, false) : add(data.stderr, true)),
        onError: (/** @type {any} */ error) => ended(`Stopped: ${errorText(error)}`),
        onClose: (/** @type {number} */ code) => {
          if (pending.length) flush();
          if (lines === 0) view.replaceChildren(h("span", { class: "placeholder" }, "No output."));
          ended(code === 0 ? "Ended: the container is not running" : `Ended: docker logs exited with ${code}`);
        },
      },
    });
    onLeave(() => {
      window.clearTimeout(flushTimer);
      process.close();
    });
  }

  async function inspectTab(/** @type {any} */ info, /** @type {HTMLElement} */ box) {
    // Fresh, not the header's copy: the state may have changed since the page loaded.
    try {
      const [fresh] = await dockerJson("inspect", ["--type", "container", info.Id]);
      box.replaceChildren(jsonView(fresh));
    } catch (error) {
      box.replaceChildren(h("div", { class: "banner error", role: "alert" }, errorText(error)));
    }
  }

  /** A small line chart of the last values (percentages) as SVG; the points are numbers only. */
  function sparkline(/** @type {number[]} */ values) {
    const svgNs = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(svgNs, "svg");
    svg.setAttribute("class", "spark");
    svg.setAttribute("viewBox", `0 0 ${SPARK_POINTS - 1} 100`);
    svg.setAttribute("preserveAspectRatio", "none");
    const line = document.createElementNS(svgNs, "polyline");
    // Scaled to the largest value seen (at least 1%), so small loads still draw a shape.
    const top = Math.max(1, ...values) * 1.2;
    const offset = SPARK_POINTS - values.length;
    line.setAttribute("points", values.map((value, i) =>
      `${offset + i},${100 - (Math.max(value, 0) / top) * 100}`).join(" "));
    svg.append(line);
    return svg;
  }

  /** Live stats: `docker stats --format '{{json .}}'` streaming, one JSON line per refresh. */
  function statsTab(/** @type {any} */ info, /** @type {HTMLElement} */ box) {
    const grid = h("div", { class: "stats", "data-testid": "stats" });
    const note = info.State && info.State.Running ? null
      : h("div", { class: "banner" }, "The container is not running: its usage is zero.");
    box.append(...(note ? [note] : []), grid);
    grid.append(h("p", { class: "muted" }, "Measuring…"));
    /** @type {number[]} */
    const cpu = [];
    /** @type {number[]} */
    const memory = [];
    const percent = (/** @type {string} */ text) => Number.parseFloat(String(text || "0").replace("%", "")) || 0;
    /** @param {string} label @param {string} value @param {string} detail @param {number[]} [history] */
    const card = (label, value, detail, history) => h("div", { class: "card stat" },
      h("div", { class: "label" }, label), h("div", { class: "value" }, value),
      h("div", { class: "detail" }, detail), history ? sparkline(history) : null);
    const draw = (/** @type {any} */ sample) => {
      for (const [series, value] of [[cpu, percent(sample.CPUPerc)], [memory, percent(sample.MemPerc)]]) {
        const values = /** @type {number[]} */ (series);
        values.push(/** @type {number} */ (value));
        if (values.length > SPARK_POINTS) values.shift();
      }
      grid.replaceChildren(
        card("CPU", sample.CPUPerc || "—", "of one CPU = 100%", cpu),
        card("Memory", sample.MemPerc || "—", sample.MemUsage || "", memory),
        card("Network I/O", sample.NetIO || "—", "received / sent"),
        card("Block I/O", sample.BlockIO || "—", "read / written"),
        card("PIDs", sample.PIDs || "—", "processes and threads"));
    };
    // Without a terminal the CLI still prints screen-clearing escapes between refreshes.
    const escapes = /\u001b\[[0-9;?]*[A-Za-z]/g;
    const process = dd.docker.cli.exec("stats", ["--format", "{{json .}}", info.Id], {
      stream: {
        splitOutputLines: true,
        onOutput: (/** @type {any} */ data) => {
          const line = String(data.stdout || "").replace(escapes, "").trim();
          if (!line.startsWith("{")) return;
          try {
            draw(JSON.parse(line));
          } catch {
            // a line cut by the CLI's redraw: the next one follows within a second
          }
        },
        onError: (/** @type {any} */ error) => grid.replaceChildren(
          h("div", { class: "banner error", role: "alert" }, errorText(error))),
        onClose: () => grid.append(h("p", { class: "muted" }, "Stats ended: the container is not running.")),
      },
    });
    onLeave(() => process.close());
  }

  // ------------------------------------------------------------------------------------------
  // Images

  async function imagesView() {
    let query = "";
    /** @type {any[]} */
    let rows = [];
    const body = h("div");
    const errors = h("div");
    const count = h("span", { class: "count" });
    const draw = () => {
      const shown = rows.filter((row) => !query || `${row.repo}:${row.tag} ${row.image.Id}`.toLowerCase().includes(query));
      count.textContent = `${shown.length} of ${rows.length} images`;
      body.replaceChildren(table([
        {
          title: "Name",
          cell: (row) => [h("span", { class: `dot ${row.inUse ? "running" : ""}`, title: row.inUse ? "in use" : "unused" }),
            h("a", { href: imageUrl(row.image.Id, row.tag), "data-testid": "image-link" }, row.repo)],
        },
        { title: "Tag", cell: (row) => row.tag || "<none>" },
        { title: "Image ID", cell: (row) => h("span", { class: "mono" }, shortId(row.image.Id)) },
        { title: "Created", cell: (row) => ago(row.image.Created) },
        { title: "Size", class: "num", cell: (row) => formatBytes(row.image.Size) },
      ], shown, rows.length ? "No image matches." : "No images yet."));
    };
    main.replaceChildren(
      pageHead("Images", "Local images; a green dot marks those a container uses."),
      h("div", { class: "toolbar" }, searchBox((value) => { query = value; draw(); }), count),
      errors, body);
    await poll(async () => {
      const [images, containers] = await Promise.all([dd.docker.listImages(), dd.docker.listContainers({ all: true })]);
      const used = new Set(containers.map((/** @type {any} */ c) => c.ImageID));
      rows = images.flatMap((/** @type {any} */ image) => {
        const inUse = used.has(image.Id);
        const tags = (image.RepoTags || []).filter((/** @type {string} */ ref) => ref !== "<none>:<none>");
        if (tags.length === 0) return [{ image, repo: "<none>", tag: "", inUse }];
        return tags.map((/** @type {string} */ ref) => {
          const tag = tagOf(ref);
          return { image, repo: tag ? ref.slice(0, -tag.length - 1) : ref, tag, inUse };
        });
      });
      draw();
    }, errors);
  }

  /** @param {string} id @param {string} tag */
  async function imageView(id, tag) {
    let info;
    let layers;
    let listed;
    try {
      [[info], layers, listed] = await Promise.all([
        dockerJson("image", ["inspect", id]),
        // Quoted as on Docker Desktop: the blocking form splits its line as a shell does.
        dd.docker.cli.exec("history", ["--no-trunc", "--format", "'{{json .}}'", id])
          .then((/** @type {any} */ result) => result.parseJsonLines()),
        dd.docker.listImages(),
      ]);
    } catch (error) {
      showError(`Cannot show image ${id}`, error);
      return;
    }
    // The tags as the list gives them: Docker's familiar names on Podman too, whose inspect
    // says docker.io/… (the daemon reshapes the list, not the CLI's output).
    const entry = listed.find((/** @type {any} */ image) => image.Id === info.Id);
    const tags = (entry && entry.RepoTags) || info.RepoTags || [];
    const named = tags.find((/** @type {string} */ ref) => tag && tagOf(ref) === tag) || tags[0];
    const config = info.Config || {};
    // "Used by" is a side note: the image is shown even if the engine refuses the filter.
    const containers = await dd.docker.listContainers({ all: true, filters: { ancestor: [info.Id] } })
      .catch(() => []);
    main.replaceChildren(
      pageHead(named || shortId(info.Id), [
        h("span", { class: "mono" }, shortId(info.Id)),
        h("span", null, formatBytes(info.Size)),
        h("span", null, `created ${ago(info.Created)}`),
        h("span", null, `${info.Os || "?"}/${info.Architecture || "?"}`)],
      h("a", { href: pageUrl("images") }, "Images")),
      ...(tag && !tags.some((/** @type {string} */ ref) => tagOf(ref) === tag)
        ? [h("div", { class: "banner" }, `This image has no tag “${tag}”.`)] : []),
      section("Summary", keyValues([
        ["Id", h("span", { class: "mono" }, info.Id)],
        ["Tags", tags.length ? monoList(tags) : "<none>"],
        ["Command", config.Cmd ? h("span", { class: "mono" }, config.Cmd.join(" ")) : ""],
        ["Entrypoint", config.Entrypoint ? h("span", { class: "mono" }, config.Entrypoint.join(" ")) : ""],
        ["Working dir", config.WorkingDir],
        ["User", config.User],
        ["Exposed ports", Object.keys(config.ExposedPorts || {}).join(", ")],
        ["Environment", (config.Env || []).length ? monoList(config.Env) : ""],
        ["Labels", Object.keys(config.Labels || {}).length ? labelList(config.Labels) : ""],
      ])),
      section("Layers", table([
        { title: "#", cell: (layer) => String(layers.length - layers.indexOf(layer)) },
        { title: "Created by", cell: (layer) => h("span", { class: "mono" }, layer.CreatedBy || layer.Comment || "") },
        { title: "Created", cell: (layer) => layer.CreatedSince || "" },
        { title: "Size", class: "num", cell: (layer) => layer.Size },
      ], layers, "No layer history.")),
      section("Used by", containerTable(containers, "No container uses this image.")),
      section("Inspect", h("details", null, h("summary", null, "Show JSON"), jsonView(info))));
  }

  /** The containers a volume or image page lists, linking to their pages. */
  function containerTable(/** @type {any[]} */ containers, /** @type {string} */ empty) {
    return table([
      {
        title: "Container",
        cell: (c) => [h("span", { class: `dot ${c.State}` }), h("a", { href: containerUrl(c.Id) }, containerName(c))],
      },
      { title: "Image", cell: (c) => c.Image },
      { title: "Status", cell: (c) => c.Status },
    ], containers, empty);
  }

  // ------------------------------------------------------------------------------------------
  // Volumes

  async function volumesView() {
    let query = "";
    /** @type {any[]} */
    let volumes = [];
    /** @type {Map<string, any[]>} */
    let users = new Map();
    const body = h("div");
    const errors = h("div");
    const count = h("span", { class: "count" });
    const draw = () => {
      const shown = volumes.filter((v) => !query || String(v.Name).toLowerCase().includes(query));
      count.textContent = `${shown.length} of ${volumes.length} volumes`;
      body.replaceChildren(table([
        {
          title: "Name",
          cell: (v) => [h("span", { class: `dot ${users.has(v.Name) ? "running" : ""}` }),
            h("a", { href: volumeUrl(v.Name), "data-testid": "volume-link" }, v.Name)],
        },
        { title: "Driver", cell: (v) => v.Driver },
        {
          title: "Used by",
          cell: (v) => (users.get(v.Name) || []).map((c, i) =>
            [i ? ", " : "", h("a", { href: containerUrl(c.Id) }, containerName(c))]),
        },
        { title: "Mountpoint", cell: (v) => h("span", { class: "mono muted" }, v.Mountpoint) },
      ], shown, volumes.length ? "No volume matches." : "No volumes yet."));
    };
    main.replaceChildren(
      pageHead("Volumes", "Named and anonymous volumes; a green dot marks those in use."),
      h("div", { class: "toolbar" }, searchBox((value) => { query = value; draw(); }), count),
      errors, body);
    await poll(async () => {
      const [listed, containers] = await Promise.all([
        dd.docker.cli.exec("volume", ["ls", "--format", "'{{json .}}'"])
          .then((/** @type {any} */ result) => result.parseJsonLines()),
        dd.docker.listContainers({ all: true }),
      ]);
      users = new Map();
      for (const container of containers) {
        for (const mount of container.Mounts || []) {
          if (mount.Type === "volume") users.set(mount.Name, [...(users.get(mount.Name) || []), container]);
        }
      }
      volumes = listed;
      draw();
    }, errors);
  }

  async function volumeView(/** @type {string} */ name) {
    let info;
    let containers;
    try {
      [[info], containers] = await Promise.all([
        dockerJson("volume", ["inspect", name]),
        dd.docker.listContainers({ all: true, filters: { volume: [name] } }),
      ]);
    } catch (error) {
      showError(`Cannot show volume ${name}`, error);
      return;
    }
    main.replaceChildren(
      pageHead(info.Name, [h("span", null, `driver ${info.Driver}`), h("span", null, `scope ${info.Scope}`),
        info.CreatedAt ? h("span", null, `created ${ago(info.CreatedAt)}`) : null],
      h("a", { href: pageUrl("volumes") }, "Volumes")),
      section("Summary", keyValues([
        ["Name", h("span", { class: "mono" }, info.Name)],
        ["Driver", info.Driver],
        ["Mountpoint", h("span", { class: "mono" }, info.Mountpoint)],
        ["Created", info.CreatedAt],
        ["Labels", Object.keys(info.Labels || {}).length ? labelList(info.Labels) : ""],
        ["Options", Object.keys(info.Options || {}).length ? labelList(info.Options) : ""],
      ])),
      section("Used by", containerTable(containers, "No container uses this volume.")),
      section("Inspect", h("details", null, h("summary", null, "Show JSON"), jsonView(info))));
  }

  // ------------------------------------------------------------------------------------------
  // Routing

  /** The view the path names: section, id and container tab. */
  function route() {
    const [section = "containers", id = "", tab = ""] = location.pathname.slice(BASE.length + 1)
      .split("/").map(decodeURIComponent);
    return { section, id, tab };
  }

  function start() {
    const { section, id, tab } = route();
    for (const link of document.querySelectorAll(".nav")) {
      link.classList.toggle("active", /** @type {HTMLElement} */ (link).dataset.section === section);
    }
    if (!dd) {
      showError("The ddClient shim did not load", new Error("/ddclient.js is missing from this page"));
      return;
    }
    const tag = new URLSearchParams(location.search).get("tag") || "";
    const views = {
      containers: () => (id ? containerView(id, tab) : containersView()),
      images: () => (id ? imageView(id, tag) : imagesView()),
      volumes: () => (id ? volumeView(id) : volumesView()),
    };
    const view = views[/** @type {keyof typeof views} */ (section)] || containersView;
    view().catch((error) => showError("This page failed", error));
  }

  start();
})();
