// Renders any query-api response without knowing its fields: top-level numbers as
// figures, lists of rows as tables (session samples become replay links), time series
// as line charts. The pages use it where a dedicated view adds nothing.
import { h, kpis, table, chart, fmt, replayLink, PALETTE } from "/assets/portal.js";

const TIME_KEYS = ["bucket", "time", "day", "hour", "week", "date", "at", "started", "minute"];
const SAMPLE_KEYS = ["samples", "sample_sessions", "sessions_sample", "sample"];

export function label(key) {
  return key.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}

function isMoment(value) {
  return value && typeof value === "object" && "session_id" in value;
}

function isMomentList(value) {
  return Array.isArray(value) && (value.length === 0 || isMoment(value[0]));
}

export function formatValue(key, value) {
  if (value === null || value === undefined) return "—";
  if (isMomentList(value)) return replayLink(value);
  if (isMoment(value)) return replayLink([value]);
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v !== "object")) return pathNode(value);
    return `${value.length} items`;
  }
  if (typeof value === "object") return JSON.stringify(value);
  if (typeof value === "number") {
    if (/(_rate|_share|ratio|pct_of)$/.test(key) || key === "share") return fmt.pct(value);
    if (/_ms$/.test(key)) return fmt.ms(value);
    if (/bytes$/.test(key)) return fmt.bytes(value);
    if (/_s$|_seconds$/.test(key)) return fmt.seconds(value);
    if (/_hours$/.test(key)) return fmt.hours(value);
    return fmt.number(value);
  }
  if (typeof value === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(value)) return fmt.datetime(value);
  return String(value);
}

/** `a → b → c` with each step boxed. */
export function pathNode(steps) {
  const el = h("span.path");
  steps.forEach((step, i) => {
    if (i) el.append(h("span.arrow", {}, "→"));
    el.append(h("span.step", {}, String(step)));
  });
  return el;
}

function rowsOf(value) {
  return Array.isArray(value) && value.length > 0 && value.every((v) => v && typeof v === "object" && !Array.isArray(v)) ? value : null;
}

export function genericEmpty(data) {
  if (!data || typeof data !== "object") return true;
  const keys = Object.keys(data).filter((k) => k !== "queries");
  if (keys.length === 0) return true;
  const lists = keys.filter((k) => Array.isArray(data[k]));
  const numbers = keys.filter((k) => typeof data[k] === "number");
  return numbers.every((k) => !data[k]) && lists.length > 0 && lists.every((k) => data[k].length === 0);
}

function timeKey(rows) {
  return Object.keys(rows[0]).find((k) => TIME_KEYS.includes(k));
}

/** A line chart of a time series (first time-like column against its numeric ones). */
export function seriesChart(body, rows, { keys = null, label: title = "series" } = {}) {
  const tkey = timeKey(rows);
  const numeric = keys || Object.keys(rows[0]).filter((k) => k !== tkey && typeof rows[0][k] === "number");
  return chart(body, {
    type: "line",
    label: title,
    data: {
      labels: rows.map((r) => fmt.datetime(r[tkey])),
      datasets: numeric.map((k, i) => ({
        label: label(k),
        data: rows.map((r) => r[k]),
        borderColor: PALETTE[i % PALETTE.length],
        backgroundColor: PALETTE[i % PALETTE.length],
        pointRadius: 0,
        tension: 0.2,
      })),
    },
    options: { scales: { x: { ticks: { maxTicksLimit: 8 } } } },
  });
}

export function genericTable(body, rows, { onRow = null, skip = [] } = {}) {
  const keys = Object.keys(rows[0]).filter((k) => !skip.includes(k));
  const ordered = [...keys.filter((k) => !SAMPLE_KEYS.includes(k)), ...keys.filter((k) => SAMPLE_KEYS.includes(k))];
  return table(
    body,
    rows,
    ordered.map((k) => ({
      key: k,
      label: SAMPLE_KEYS.includes(k) ? "Replay" : label(k),
      num: typeof rows[0][k] === "number",
      format: (v) => formatValue(k, v),
    })),
    { onRow },
  );
}

export function genericRender(data, body) {
  const keys = Object.keys(data).filter((k) => k !== "queries");
  const numbers = keys.filter((k) => typeof data[k] === "number");
  if (numbers.length) kpis(body, numbers.map((k) => ({ key: k, label: label(k), value: formatValue(k, data[k]) })));
  for (const k of keys) {
    const value = data[k];
    if (value && typeof value === "object" && !Array.isArray(value) && !isMoment(value)) {
      const inner = Object.keys(value).filter((x) => typeof value[x] === "number");
      if (inner.length) {
        body.append(h("h3", {}, label(k)));
        kpis(body, inner.map((x) => ({ key: `${k}.${x}`, label: label(x), value: formatValue(x, value[x]) })));
      }
    }
    const rows = rowsOf(value);
    if (!rows) continue;
    body.append(h("h3", {}, label(k)));
    if (timeKey(rows) && rows.length > 2) seriesChart(body, rows, { label: label(k) });
    else genericTable(body, rows);
  }
}
