// The DOM and formatting helpers the bridge's own pages share: the extensions host's page
// (static/shell/, served as /dom.js) and the stand-in Docker pages (static/docker-pages/, served
// as /_ddbridge/docker-pages/dom.js). Each page loads this script before its own (both deferred,
// so in that order) and takes what it needs from the one global `ddbridgeDom`: a top-level const
// of a classic script, seen by the page's later scripts but no property of window.
// Plain script, no build step. Strings become text nodes and attributes are set through the DOM
// API: nothing handed to `h` is parsed as HTML.
"use strict";

const ddbridgeDom = (() => {
  /**
   * An element with attributes (`on*` keys become listeners) and children (strings become text).
   * @template {keyof HTMLElementTagNameMap} K
   * @param {K} tag
   * @param {Record<string, any> | null} [props]
   * @param {...any} children
   * @returns {HTMLElementTagNameMap[K]}
   */
  function h(tag, props, ...children) {
    const element = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
      else element.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child !== undefined && child !== null && child !== false) {
        element.append(child instanceof Node ? child : String(child));
      }
    }
    return element;
  }

  /** "1.5 MB" for a count of bytes (decimal units); "—" for what is not a count.
   * @param {number} bytes */
  function formatBytes(bytes) {
    if (!Number.isFinite(bytes) || bytes < 0) return "—";
    const units = ["B", "kB", "MB", "GB", "TB"];
    let value = bytes;
    let unit = 0;
    while (value >= 1000 && unit < units.length - 1) {
      value /= 1000;
      unit += 1;
    }
    return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
  }

  return Object.freeze({ h, formatBytes });
})();
