// The portal's shell, shared by every page: navigation, the time range and filters kept
// in the URL, the fetch helper and the views' loading / empty / error states, "show SQL",
// links into the replay, and keyboard shortcuts. No framework, no build step.
import { createShortcuts } from "/assets/shortcuts.js";
import { fmt } from "/assets/format.js";
import { h } from "/assets/dom.js";
import { suggestions } from "/assets/suggest.js";

export { fmt, h };
export { kpis, table, chart, bars, PALETTE } from "/assets/render.js";

// The portal's pages inline their config; the services' own pages that load this shell
// (Ask AI) get it from the gateway.
const inline = document.getElementById("exos-config");
let CONFIG = inline ? JSON.parse(inline.textContent) : {};
if (!inline) {
  fetch("/portal/config.json", { headers: { accept: "application/json" }, credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : {}))
    .then((config) => {
      CONFIG = config;
      if (config.banner && !document.querySelector(".banner")) {
        document.body.prepend(h("div.banner", { role: "note", id: "banner" }, config.banner));
      }
      drawShell();
    })
    .catch(() => {});
}

// Query parameters every page shares (kept when moving between pages).
// The process filters (operator, team, lob, vendor) apply to the process-mining views;
// the visitor filters (page, browser, ...) to analytics, site health and sessions.
export const FILTER_KEYS = ["service", "page", "browser", "os", "device", "country", "city", "operator", "team", "lob", "vendor"];
export const SHARED_KEYS = ["from", "to", ...FILTER_KEYS];

const NAV = [
  { href: "/", label: "Home", key: "h" },
  { href: "/process-mining", label: "Process Mining", key: "p" },
  { href: "/sessions", label: "Sessions", key: "s" },
  { href: "/analytics", label: "Product Analytics", key: "a" },
  { href: "/site-health", label: "Site Health", key: "w" },
  { href: "/ask", label: "Ask AI", key: "i", shownIf: "askAi" },
  { href: "/guide", label: "Docs", key: "d" },
];

// What this user may open: the gateway says whether their role reaches Ask AI.
const nav = () => NAV.filter((item) => !item.shownIf || CONFIG[item.shownIf] !== false);

const PRESETS = [
  { label: "Last hour", ms: 3600e3 },
  { label: "Last 24 hours", ms: 24 * 3600e3 },
  { label: "Last 7 days", ms: 7 * 24 * 3600e3 },
  { label: "Last 30 days", ms: 30 * 24 * 3600e3 },
  { label: "Last 90 days", ms: 90 * 24 * 3600e3 },
];

// ---------------------------------------------------------------- URL state

export function params() {
  return new URLSearchParams(location.search);
}

/** The shared state (time range and filters) as an object of the set keys. */
export function sharedState() {
  const all = params();
  const out = {};
  for (const key of SHARED_KEYS) if (all.get(key)) out[key] = all.get(key);
  return out;
}

/** Change URL parameters (null/"" removes one), push a history entry, tell the views. */
export function setParams(changes, { push = true } = {}) {
  const next = params();
  for (const [key, value] of Object.entries(changes)) {
    if (value === null || value === undefined || value === "") next.delete(key);
    else next.set(key, value);
  }
  const query = next.toString();
  const url = location.pathname + (query ? "?" + query : "") + location.hash;
  if (push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
  stateChanged();
}

const listeners = new Set();
export function onStateChange(fn) {
  listeners.add(fn);
}
// Views made while handling a change already load with the new state: not reloaded.
let epoch = 0;
function stateChanged() {
  epoch += 1;
  inflight.clear();
  drawShell();
  for (const fn of [...listeners]) fn();
  reloadViews();
}
window.addEventListener("popstate", stateChanged);

/** A link to another portal page that keeps the shared state. */
export function sharedHref(path, extra = {}) {
  const query = new URLSearchParams({ ...sharedState(), ...extra });
  const text = query.toString();
  return path + (text ? "?" + text : "");
}

// ---------------------------------------------------------------- fetch

export class ApiError extends Error {}

/** GET an `/api` path with the shared state plus `extra` parameters; JSON back. */
export async function api(path, extra = {}, { shared = true } = {}) {
  const query = new URLSearchParams(shared ? sharedState() : {});
  for (const [key, value] of Object.entries(extra)) {
    if (Array.isArray(value)) {
      query.delete(key);
      for (const item of value) query.append(key, item); // repeated: `steps=a&steps=b`
    } else if (value !== null && value !== undefined && value !== "") query.set(key, value);
  }
  const url = path + (query.toString() ? "?" + query : "");
  // Views of one page asking the same thing share one request (until the state changes).
  if (!inflight.has(url)) {
    const request = fetchJson(path, url);
    inflight.set(url, request);
    request.catch(() => inflight.delete(url)); // a retry asks again
  }
  return inflight.get(url);
}

const inflight = new Map();

async function fetchJson(path, url) {
  let response;
  try {
    response = await fetch(url, { headers: { accept: "application/json" }, credentials: "same-origin" });
  } catch (error) {
    throw new ApiError(`${path}: the server did not answer (${error.message})`);
  }
  if (response.status === 401) {
    location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
    throw new ApiError("sign in first");
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const message = body?.error?.message || body?.detail || response.statusText;
    throw new ApiError(`${path} answered ${response.status}: ${typeof message === "string" ? message : JSON.stringify(message)}`);
  }
  return body;
}

// ---------------------------------------------------------------- DOM helpers

// ---------------------------------------------------------------- views

const views = [];

/**
 * A card that loads, then renders. `load()` returns the response (or throws);
 * `render(data, body)` fills the body; `isEmpty(data)` says there is nothing to show.
 * The card's "SQL" button shows `data.queries` (what the numbers came from).
 * States are on `data-state`: loading, ready, empty, error.
 */
export function view(parent, { id, title, load, render, isEmpty = () => false, wide = false, note = "" }) {
  const sql = h("button.sql", { type: "button", title: "Show the SQL behind this view", hidden: true }, "SQL");
  const body = h("div.body");
  const el = h(
    "section.card" + (wide ? ".wide" : ""),
    { "data-view": id, "data-state": "loading", "aria-busy": "true" },
    h("header", {}, h("h2", {}, title), note ? h("span.note", {}, note) : null, sql),
    body,
  );
  parent.append(el);
  let queries = [];
  sql.addEventListener("click", () => showSql(title, queries));
  let generation = 0;

  async function reload() {
    const mine = ++generation;
    el.dataset.state = "loading";
    el.setAttribute("aria-busy", "true");
    body.replaceChildren(h("p.state.loading", {}, "Loading…"));
    try {
      const data = await load();
      if (mine !== generation) return;
      queries = (data && data.queries) || [];
      sql.hidden = queries.length === 0;
      body.replaceChildren();
      if (isEmpty(data)) {
        el.dataset.state = "empty";
        body.append(h("p.state.empty", {}, "No data in this time range and filters."));
      } else {
        const began = performance.now();
        render(data, body);
        el.dataset.renderMs = String(Math.round(performance.now() - began)); // for bench_portal
        el.dataset.state = "ready";
      }
    } catch (error) {
      if (mine !== generation) return;
      console.error(error);
      el.dataset.state = "error";
      body.replaceChildren(
        h("p.state.error", { role: "alert" }, error.message || String(error)),
        h("button", { type: "button", onclick: reload }, "Retry"),
      );
    } finally {
      if (mine === generation) el.removeAttribute("aria-busy");
    }
  }
  const entry = { el, reload, epoch };
  views.push(entry);
  reload();
  return entry;
}

/** Reload every view on the page still in the document (after the state changed). */
export function reloadViews() {
  for (let i = views.length - 1; i >= 0; i--) {
    const entry = views[i];
    if (!entry.el.isConnected) views.splice(i, 1);
    else if (entry.epoch !== epoch) entry.reload();
  }
}

// ---------------------------------------------------------------- show SQL

function dialog(id, title, ...content) {
  document.getElementById(id)?.remove();
  const el = h(
    "dialog.panel",
    { id, "aria-label": title },
    h("header", {}, h("h2", {}, title), h("button.close", { type: "button", "aria-label": "Close", onclick: () => el.close() }, "×")),
    ...content,
  );
  el.addEventListener("close", () => el.remove());
  document.body.append(el);
  el.showModal();
  return el;
}

function copyButton(label, text) {
  const button = h("button", { type: "button" }, label);
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Select and copy";
    }
  });
  return button;
}

export function showSql(title, queries) {
  const blocks = queries.map((q, i) => {
    const parameters = Object.entries(q.parameters || {});
    const runnable = runnableSql(q.sql, q.parameters || {});
    return h(
      "section.query",
      {},
      h(
        "p.meta",
        {},
        `Query ${i + 1} of ${queries.length} · ${fmt.number(q.rows)} rows · ${fmt.number(q.elapsed_ms)} ms `,
        copyButton("Copy", q.sql),
        " ",
        copyButton("Copy with values", runnable),
      ),
      h("pre.sql", {}, q.sql),
      parameters.length
        ? h(
            "table.params",
            {},
            h("tr", {}, h("th", {}, "parameter"), h("th", {}, "value")),
            parameters.map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", {}, typeof v === "string" ? v : JSON.stringify(v)))),
          )
        : null,
      parameters.length
        ? h("details", {}, h("summary", {}, "With the values inlined (re-runs as is, e.g. in clickhouse-client)"), h("pre.runnable", {}, runnable))
        : null,
    );
  });
  dialog("sql-dialog", `SQL · ${title}`, h("p.hint", {}, "Values are bound as {name:Type} parameters."), ...blocks);
}

/** A SQL literal of a bound value (strings quoted and escaped, arrays element-wise). */
function literal(value) {
  if (value === null || value === undefined) return "NULL";
  if (Array.isArray(value)) return "[" + value.map(literal).join(", ") + "]";
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return "'" + String(value).replace(/\\/g, "\\\\").replace(/'/g, "\\'") + "'";
}

/** The statement with each `{name:Type}` replaced by `CAST(<value> AS Type)`. */
export function runnableSql(sql, parameters) {
  return sql.replace(/\{(\w+):([^{}]+)\}/g, (placeholder, name, type) =>
    name in parameters ? `CAST(${literal(parameters[name])} AS ${type})` : placeholder,
  );
}

// ---------------------------------------------------------------- replay links

/** Where the replay of `moment` ({session_id, at}) opens: the player at that moment. */
export function replayHref(moment) {
  const base = "/replay/" + encodeURIComponent(moment.session_id);
  if (!moment.at) return base;
  // ClickHouse moments come without a zone and are UTC; the player parses `at` as given.
  const at = /[zZ]|[+-]\d\d:?\d\d$/.test(moment.at) ? moment.at : moment.at + "Z";
  return base + "?at=" + encodeURIComponent(at);
}

/** A "▶ replay" link to the first sample of `samples` (or nothing when there is none). */
export function replayLink(samples, label = "▶ replay") {
  const first = Array.isArray(samples) ? samples[0] : samples;
  if (!first || !first.session_id) return h("span.muted", {}, "—");
  return h(
    "a.replay",
    { href: replayHref(first), title: `Open the replay of session ${first.session_id} at ${first.at || "its start"}` },
    label,
  );
}

// ---------------------------------------------------------------- tabs

/** Tabs inside a page, the chosen one kept in the URL parameter `key`. */
export function tabs(parent, key, entries, render) {
  const bar = h("nav.tabs", { role: "tablist" });
  const panel = h("div.tab-panel", { role: "tabpanel" });
  parent.append(bar, panel);
  function current() {
    const chosen = params().get(key);
    return entries.some((e) => e.id === chosen) ? chosen : entries[0].id;
  }
  function draw() {
    if (!bar.isConnected) {
      listeners.delete(draw); // its page part was replaced
      return;
    }
    const chosen = current();
    bar.replaceChildren(
      ...entries.map((e) =>
        h(
          "a.tab",
          {
            href: "?" + new URLSearchParams({ ...Object.fromEntries(params()), [key]: e.id }),
            role: "tab",
            "aria-selected": String(e.id === chosen),
            "data-tab": e.id,
            onclick: (event) => {
              event.preventDefault();
              if (e.id !== current()) setParams({ [key]: e.id });
            },
          },
          e.label,
        ),
      ),
    );
    if (panel.dataset.tab !== chosen) {
      panel.dataset.tab = chosen;
      panel.replaceChildren();
      render(chosen, panel);
    }
  }
  listeners.add(draw);
  draw();
  return {
    move(step) {
      const index = entries.findIndex((e) => e.id === current());
      const next = entries[(index + step + entries.length) % entries.length];
      setParams({ [key]: next.id });
    },
    select(index) {
      if (entries[index]) setParams({ [key]: entries[index].id });
    },
  };
}

// ---------------------------------------------------------------- the shell

function rangeLabel() {
  const { from, to } = sharedState();
  if (!from && !to) return "Last 30 days";
  const f = from ? fmt.datetime(from) : "30 days before";
  const t = to ? fmt.datetime(to) : "now";
  return `${f} → ${t}`;
}

function toLocalInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function openTimePicker() {
  const { from, to } = sharedState();
  const fromInput = h("input", { type: "datetime-local", name: "from", value: toLocalInput(from) });
  const toInput = h("input", { type: "datetime-local", name: "to", value: toLocalInput(to) });
  const el = dialog(
    "time-picker",
    "Time range",
    h(
      "div.presets",
      {},
      PRESETS.map((p) =>
        h(
          "button",
          {
            type: "button",
            "data-preset": p.label,
            onclick: () => {
              const end = new Date();
              setParams({ from: new Date(end.getTime() - p.ms).toISOString(), to: end.toISOString() });
              el.close();
            },
          },
          p.label,
        ),
      ),
      h("button", { type: "button", "data-preset": "default", onclick: () => (setParams({ from: null, to: null }), el.close()) }, "Default (30 days)"),
    ),
    h(
      "form.custom",
      {
        onsubmit: (event) => {
          event.preventDefault();
          const f = fromInput.value ? new Date(fromInput.value).toISOString() : null;
          const t = toInput.value ? new Date(toInput.value).toISOString() : null;
          setParams({ from: f, to: t });
          el.close();
        },
      },
      h("label", {}, "From ", fromInput),
      h("label", {}, "To ", toInput),
      h("button", { type: "submit" }, "Apply"),
    ),
  );
  el.querySelector("button")?.focus();
}

function filterBar() {
  const state = sharedState();
  const chips = FILTER_KEYS.filter((k) => state[k]).map((k) =>
    h(
      "span.chip",
      { "data-filter": k },
      `${k}: ${state[k]}`,
      h("button", { type: "button", "aria-label": `Remove the ${k} filter`, onclick: () => setParams({ [k]: null }) }, "×"),
    ),
  );
  const key = h("select", { name: "filter-key", "aria-label": "Filter on" }, FILTER_KEYS.map((k) => h("option", { value: k }, k)));
  const value = h("input", { name: "filter-value", id: "filter-value", placeholder: "filter value  ( / )", "aria-label": "Filter value", autocomplete: "off", list: "filter-suggestions" });
  const list = h("datalist", { id: "filter-suggestions" });
  const { from, to } = sharedState();
  const suggest = () =>
    suggestions(key.value, (path, extra) => api(path, { ...extra, from, to }, { shared: false })).then((values) => list.replaceChildren(...values.map((v) => h("option", { value: v }))));
  key.addEventListener("change", suggest);
  value.addEventListener("focus", suggest, { once: true });
  return h(
    "form.filters",
    {
      role: "search",
      onsubmit: (event) => {
        event.preventDefault();
        if (value.value.trim()) setParams({ [key.value]: value.value.trim() });
      },
    },
    key,
    value,
    list,
    h("button", { type: "submit" }, "Add filter"),
    chips,
  );
}

/** Pages call this to add a filter from a click (e.g. a browser in a breakdown). */
export function addFilter(key, value) {
  if (FILTER_KEYS.includes(key) && value) setParams({ [key]: value });
}

function drawShell() {
  const shell = document.getElementById("shell");
  if (!shell) return;
  const here = location.pathname;
  const links = nav().map((item) => {
    const active = item.href === "/" ? here === "/" : here.startsWith(item.href);
    return h("a", { href: sharedHref(item.href), "aria-current": active ? "page" : null, "data-nav": item.key }, item.label);
  });
  shell.replaceChildren(
    h(
      "div.topbar",
      {},
      h("a.brand", { href: sharedHref("/") }, "EXOS"),
      h("nav.main-nav", { "aria-label": "Portal" }, links, h("a", { href: "/api/docs" }, "API")),
      h("button.time", { type: "button", id: "time-button", title: "Time range (t)", onclick: openTimePicker }, "Time: ", rangeLabel()),
      h("button.help", { type: "button", title: "Keyboard shortcuts (?)", onclick: () => shortcuts.showOverlay() }, "?"),
      CONFIG.signOut
        ? h("form.signout", { method: "post", action: "/auth/logout" },
            h("input", { type: "hidden", name: "csrf", value: CONFIG.csrf }),
            h("button", { type: "submit" }, "Sign out"))
        : null,
    ),
    filterBar(),
  );
}

// ---------------------------------------------------------------- keyboard

export const shortcuts = createShortcuts(dialog, h);
for (const item of nav()) {
  shortcuts.add(`g ${item.key}`, `Go to ${item.label}`, () => location.assign(sharedHref(item.href)), "Navigation");
}
shortcuts.add("/", "Focus the filter", () => document.getElementById("filter-value")?.focus(), "Everywhere");
shortcuts.add("t", "Choose the time range", openTimePicker, "Everywhere");

drawShell();
