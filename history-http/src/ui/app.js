// The history page. Every value from the server is untrusted: the DOM is built with
// createElement and textContent only (never parsed as markup), and the Content-Security-Policy
// allows no inline script.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  // Where the router is mounted (the page is served at its root): API paths are relative to it.
  const BASE = location.pathname.replace(/\/?$/, "/");
  const api = (path) => (path.startsWith("/") ? path : BASE + path);
  const FILTERS = ["event_type", "status", "user_id", "vm_id", "operation", "correlation_id", "error_contains"];

  /** An element with attributes and children (strings become text nodes). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, String(v));
    }
    for (const c of children) {
      if (c === undefined || c === null) continue;
      node.append(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function showError(message) {
    const p = $("error");
    p.textContent = message;
    p.hidden = !message;
  }

  async function getJson(path) {
    const res = await fetch(api(path), { headers: { accept: "application/json" } });
    const body = await res.json().catch(() => null);
    if (!res.ok) {
      const detail = body && body.detail ? body.detail : res.status + " " + res.statusText;
      const err = new Error(detail);
      err.status = res.status;
      throw err;
    }
    return body;
  }

  function fmtDuration(seconds) {
    if (seconds === undefined || seconds === null) return "";
    if (seconds < 0.001) return (seconds * 1e6).toFixed(0) + " µs";
    if (seconds < 1) return (seconds * 1000).toFixed(1) + " ms";
    return seconds.toFixed(2) + " s";
  }

  function fmtTime(ts) {
    const d = new Date(ts);
    return isNaN(d) ? String(ts) : d.toISOString().replace("T", " ").replace("Z", "");
  }

  function idText(v) {
    return v === undefined || v === null ? "" : String(v);
  }

  function statusCell(status) {
    return el("td", { class: "status status-" + status, text: status });
  }

  // ---- the list ----

  let nextLink = null;
  let source = null;

  function currentFilter() {
    const form = $("filters");
    const params = new URLSearchParams();
    for (const name of FILTERS) {
      const v = form.elements[name].value.trim();
      if (v) params.set(name, v);
    }
    return params;
  }

  function row(e) {
    const tr = el("tr", { class: "event", "data-id": e.id, onclick: () => { location.hash = "#/events/" + e.id; } },
      el("td", { text: fmtTime(e.timestamp) }),
      el("td", { text: e.event_type }),
      statusCell(e.status),
      el("td", {}, el("a", { href: "#/events/" + e.id, text: e.operation })),
      el("td", { text: idText(e.user_id) }),
      el("td", { text: idText(e.vm_id) }),
      el("td", { text: fmtDuration(e.duration) }),
      el("td", { class: "error", text: e.error ? e.error.message : "" }));
    return tr;
  }

  async function loadList(append) {
    showError("");
    const tbody = $("events").tBodies[0];
    let url;
    if (append && nextLink) {
      url = nextLink;
    } else {
      const params = currentFilter();
      params.set("limit", "50");
      url = "events?" + params.toString();
      clear(tbody);
    }
    try {
      const page = await getJson(url);
      for (const e of page.items) tbody.append(row(e));
      nextLink = page.next || null;
      $("more").hidden = !nextLink;
      $("list-note").textContent = tbody.rows.length ? "" : "No events match.";
    } catch (err) {
      showError("Could not load events: " + err.message);
    }
  }

  function follow() {
    if (source) source.close();
    const params = currentFilter();
    source = new EventSource(api("events/stream?" + params.toString()));
    source.addEventListener("open", () => { $("live").className = "live on"; });
    source.addEventListener("error", () => { $("live").className = "live off"; });
    source.addEventListener("event", (msg) => {
      let e;
      try { e = JSON.parse(msg.data); } catch (_) { return; }
      const tbody = $("events").tBodies[0];
      const fresh = row(e);
      fresh.classList.add("fresh");
      const old = Array.from(tbody.rows).find((r) => r.getAttribute("data-id") === e.id);
      if (old) tbody.replaceChild(fresh, old);
      else tbody.insertBefore(fresh, tbody.firstChild);
      $("list-note").textContent = "";
    });
  }

  function filtersFromHash(query) {
    const params = new URLSearchParams(query || "");
    const form = $("filters");
    for (const name of FILTERS) form.elements[name].value = params.get(name) || "";
  }

  // ---- one event ----

  function jsonBlock(title, value) {
    if (value === undefined || value === null) return null;
    return el("div", {}, el("h3", { text: title }), el("pre", { class: "json", text: JSON.stringify(value, null, 2) }));
  }

  function fields(e) {
    const dl = el("dl", { id: "fields" });
    const add = (k, v) => {
      if (v === undefined || v === null || v === "") return;
      dl.append(el("dt", { text: k }), el("dd", { text: String(v) }));
    };
    add("id", e.id);
    add("type", e.event_type);
    add("status", e.status);
    add("operation", e.operation);
    add("started", fmtTime(e.timestamp));
    if (e.finished_at) add("finished", fmtTime(e.finished_at));
    add("duration", fmtDuration(e.duration));
    add("user", idText(e.user_id));
    add("vm", idText(e.vm_id));
    add("credential", idText(e.credential_id));
    add("organization", idText(e.organization_id));
    add("correlation id", e.correlation_id);
    add("trace", e.trace_id);
    add("parent", e.parent_id);
    add("external trace", e.external_trace_id);
    add("external span", e.external_span_id);
    add("terraform status", e.terraform_status);
    for (const [k, v] of Object.entries(e.labels || {})) add("label " + k, v);
    return dl;
  }

  function errorBlock(error) {
    if (!error) return null;
    const list = el("ol", { id: "error-chain" }, el("li", { text: error.message }));
    for (const s of error.sources || []) list.append(el("li", { text: s }));
    return el("div", {}, el("h3", { text: "Error" + (error.kind ? " (" + error.kind + ")" : "") }), list,
      error.backtrace ? el("pre", { text: error.backtrace }) : null);
  }

  function outputText(lines) {
    return (lines || []).map((l) => (typeof l === "string" ? l : l.text)).join("\n");
  }

  function executionBlock(exec) {
    if (!exec) return null;
    const div = el("div", { id: "execution" }, el("h3", { text: "Execution" }));
    const summary = Object.assign({}, exec);
    const output = summary.output;
    delete summary.output;
    div.append(el("pre", { class: "json", text: JSON.stringify(summary, null, 2) }));
    if (output && (output.head || output.tail)) {
      div.append(el("h4", { text: "Output (first lines)" }), el("pre", { class: "output", text: outputText(output.head) }));
      if (output.omitted) div.append(el("p", { class: "note", text: output.omitted + " lines left out" }));
      if (output.tail && output.tail.length) {
        div.append(el("h4", { text: "Output (last lines)" }), el("pre", { class: "output", text: outputText(output.tail) }));
      }
    }
    return div;
  }

  function treeOf(items, currentId) {
    const byParent = new Map();
    const ids = new Set(items.map((e) => e.id));
    for (const e of items) {
      const p = e.parent_id && ids.has(e.parent_id) ? e.parent_id : null;
      if (!byParent.has(p)) byParent.set(p, []);
      byParent.get(p).push(e);
    }
    const build = (parent, depth) => {
      const ul = el("ul", { class: "tree" });
      for (const e of byParent.get(parent) || []) {
        const li = el("li", { class: e.id === currentId ? "current" : "" },
          el("a", { href: "#/events/" + e.id, text: e.event_type + " " + e.operation }), " ",
          el("span", { class: "status status-" + e.status, text: e.status }), " ",
          el("span", { class: "note", text: fmtDuration(e.duration) }));
        if (depth < 50) li.append(build(e.id, depth + 1));
        ul.append(li);
      }
      return ul;
    };
    return build(null, 0);
  }

  function diffBlock(d) {
    if (!d.diff) return el("p", { class: "note", text: "No previous successful run." });
    const rows = [];
    for (const part of ["parameters", "result", "fields"]) {
      for (const c of d.diff[part] || []) {
        rows.push(el("tr", {}, el("td", { text: part }), el("td", { text: c.path }), el("td", { text: c.change }),
          el("td", { text: c.old === undefined ? "" : JSON.stringify(c.old) }),
          el("td", { text: c.new === undefined ? "" : JSON.stringify(c.new) })));
      }
    }
    if (!rows.length) return el("p", { class: "note", text: "No differences from the previous successful run." });
    return el("table", { id: "diff" },
      el("thead", {}, el("tr", {}, ...["part", "path", "change", "previous", "this run"].map((h) => el("th", { text: h })))),
      el("tbody", {}, ...rows));
  }

  async function showDetail(id) {
    const view = $("view-detail");
    clear(view);
    let e;
    try {
      e = await getJson("events/" + encodeURIComponent(id));
    } catch (err) {
      showError("Could not load event: " + err.message);
      return;
    }
    view.append(el("p", {}, el("a", { href: "#/", text: "← all events" })),
      el("h2", { id: "detail-title", text: e.event_type + " · " + e.operation }),
      fields(e), errorBlock(e.error), jsonBlock("Parameters", e.parameters), jsonBlock("Result", e.result),
      executionBlock(e.execution));
    const traceDiv = el("div", { id: "trace" }, el("h3", { text: "Trace" }));
    view.append(traceDiv);
    const diffDiv = el("div", { id: "previous" }, el("h3", { text: "Against the previous successful run" }));
    view.append(diffDiv);
    try {
      const trace = await getJson("events/" + encodeURIComponent(id) + "/trace");
      traceDiv.append(treeOf(trace.items, e.id));
      if (trace.truncated) traceDiv.append(el("p", { class: "note", text: "The trace is longer than shown." }));
    } catch (err) {
      traceDiv.append(el("p", { class: "error", text: err.message }));
    }
    try {
      diffDiv.append(diffBlock(await getJson("events/" + encodeURIComponent(id) + "/diff/previous")));
    } catch (err) {
      diffDiv.append(el("p", { class: "error", text: err.message }));
    }
  }

  // ---- statistics ----

  function pct(x) {
    return x === null || x === undefined ? "" : (x * 100).toFixed(1) + " %";
  }

  /** A chart of `series` ([{name, cls, points: [[label, value]]}]) as bars or lines. */
  function chart(series, kind, max) {
    const W = 720, H = 220, L = 48, B = 28, T = 10, R = 10;
    const root = svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img" });
    const n = Math.max(1, ...series.map((s) => s.points.length));
    const top = max || Math.max(1e-9, ...series.flatMap((s) => s.points.map((p) => p[1] || 0)));
    const x = (i) => L + (i + 0.5) * ((W - L - R) / n);
    const y = (v) => H - B - (v / top) * (H - B - T);
    for (let k = 0; k <= 4; k++) {
      const v = (top * k) / 4;
      root.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      root.append(svg("text", { x: 2, y: y(v) + 3 }, max === 1 ? pct(v) : v.toPrecision(3)));
    }
    root.append(svg("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
    const labels = series[0] ? series[0].points.map((p) => p[0]) : [];
    const every = Math.ceil(labels.length / 8) || 1;
    labels.forEach((label, i) => {
      if (i % every === 0) root.append(svg("text", { x: x(i) - 20, y: H - 8 }, label));
    });
    for (const s of series) {
      if (kind === "bars") {
        const w = Math.max(2, (W - L - R) / n - 4);
        s.points.forEach((p, i) => {
          if (p[1] === null) return;
          const r = svg("rect", { class: "bar", x: x(i) - w / 2, y: y(p[1]), width: w, height: H - B - y(p[1]) });
          r.append(svg("title", {}, p[0] + ": " + pct(p[1])));
          root.append(r);
        });
      } else {
        const pts = s.points.map((p, i) => (p[1] === null ? null : x(i) + "," + y(p[1]))).filter(Boolean);
        root.append(svg("polyline", { class: s.cls, points: pts.join(" ") }));
        root.append(svg("text", { x: W - R - 40, y: T + 10 + 12 * series.indexOf(s), class: s.cls }, s.name));
      }
    }
    return root;
  }

  async function showStats() {
    const form = $("stats-form");
    const type = form.elements.event_type.value;
    const per = form.elements.group_by.value;
    const params = new URLSearchParams({ group_by: per });
    if (type) params.set("event_type", type);
    try {
      const [overTime, byType] = await Promise.all([getJson("stats?" + params), getJson("stats?group_by=event_type")]);
      const s = overTime.summary;
      const sum = $("stats-summary");
      clear(sum);
      sum.append(el("p", { id: "stats-total", text: s.total + " events · success rate " + pct(s.success_rate) +
        (s.duration ? " · p50 " + fmtDuration(s.duration.p50) + " · p95 " + fmtDuration(s.duration.p95) : "") }));
      const label = (k) => String(k).replace("T", " ").replace(":00Z", "").replace("Z", "");
      const rate = overTime.groups.map((g) => [label(g.key), g.summary.success_rate]);
      const p50 = overTime.groups.map((g) => [label(g.key), g.summary.duration ? g.summary.duration.p50 : null]);
      const p95 = overTime.groups.map((g) => [label(g.key), g.summary.duration ? g.summary.duration.p95 : null]);
      clear($("chart-rate"));
      $("chart-rate").append(chart([{ name: "success", cls: "bar", points: rate }], "bars", 1));
      clear($("chart-duration"));
      $("chart-duration").append(chart([{ name: "p50", cls: "p50", points: p50 }, { name: "p95", cls: "p95", points: p95 }], "lines"));
      const tbody = $("stats-types").tBodies[0];
      clear(tbody);
      const select = $("stats-type");
      const known = new Set(Array.from(select.options).map((o) => o.value));
      for (const g of byType.groups) {
        const d = g.summary.duration;
        tbody.append(el("tr", {}, el("td", { text: String(g.key) }), el("td", { text: String(g.summary.total) }),
          el("td", { text: pct(g.summary.success_rate) }), el("td", { text: d ? fmtDuration(d.p50) : "" }),
          el("td", { text: d ? fmtDuration(d.p95) : "" })));
        if (!known.has(String(g.key))) select.append(el("option", { value: String(g.key), text: String(g.key) }));
      }
    } catch (err) {
      showError("Could not load statistics: " + err.message);
    }
  }

  // ---- routing ----

  function show(view) {
    for (const v of ["view-list", "view-detail", "view-stats"]) $(v).hidden = v !== view;
  }

  function route() {
    showError("");
    const hash = location.hash || "#/";
    const detail = hash.match(/^#\/events\/([0-9a-fA-F-]{36})$/);
    if (detail) {
      show("view-detail");
      showDetail(detail[1]);
    } else if (hash.startsWith("#/stats")) {
      show("view-stats");
      showStats();
    } else {
      show("view-list");
      const q = hash.indexOf("?");
      filtersFromHash(q >= 0 ? hash.slice(q + 1) : "");
      loadList(false);
      follow();
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("filters").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const q = currentFilter().toString();
      const target = "#/" + (q ? "?" + q : "");
      if (location.hash === target) route();
      else location.hash = target;
    });
    $("filters").addEventListener("reset", () => {
      setTimeout(() => { location.hash = "#/"; route(); }, 0);
    });
    $("more").addEventListener("click", () => loadList(true));
    $("stats-form").addEventListener("submit", (ev) => { ev.preventDefault(); showStats(); });
    window.addEventListener("hashchange", route);
    route();
  });
})();
