// Sessions: the list from the replay service (`/api/sessions`) with the shared time range
// (sessions still going at or after `from`, started by `to`), country/city filters and
// this page's own (user, signals, duration, sort), all in the URL. A row opens the replay.
import { api, view, h, table, fmt, params, setParams, shortcuts, replayHref } from "/assets/portal.js";

const PAGE_SIZE = 50;
const FLAGS = [
  ["has_rage_click", "rage clicks"],
  ["has_dead_click", "dead clicks"],
  ["has_errors", "errors"],
  ["has_recording", "recorded"],
];

function drawFilters() {
  const p = params();
  const form = document.getElementById("session-filters");
  const user = h("input", { name: "user", value: p.get("user") || "", placeholder: "user e-mail, name or uid", "aria-label": "User" });
  const minDuration = h("input", { name: "min_duration_s", type: "number", min: "0", value: p.get("min_duration_s") || "", placeholder: "min s", style: "width:90px", "aria-label": "Shortest duration (s)" });
  const sort = h("select", { name: "sort", "aria-label": "Sort" }, h("option", { value: "recency" }, "newest first"), h("option", { value: "frustration" }, "most frustrated first"));
  sort.value = p.get("sort") || "recency";
  const flags = FLAGS.map(([key, label]) => h("label", {}, h("input", { type: "checkbox", name: key, checked: p.get(key) === "true" }), " " + label));
  form.replaceChildren(
    user,
    h("label", {}, "Duration ≥ ", minDuration),
    ...flags,
    h("label", {}, "Sort ", sort),
    h("button", { type: "submit" }, "Apply"),
  );
  form.onsubmit = (event) => {
    event.preventDefault();
    const changes = { user: user.value.trim() || null, min_duration_s: minDuration.value || null, sort: sort.value === "recency" ? null : sort.value, offset: null };
    for (const [key] of FLAGS) changes[key] = form.elements[key].checked ? "true" : null;
    setParams(changes);
  };
  sort.onchange = () => form.requestSubmit();
  for (const box of form.querySelectorAll("input[type=checkbox]")) box.onchange = () => form.requestSubmit();
}

function query() {
  const p = params();
  const q = {
    since: p.get("from"),
    until: p.get("to"),
    country: p.get("country"),
    city: p.get("city"),
    user: p.get("user"),
    min_duration_s: p.get("min_duration_s"),
    sort: p.get("sort"),
    limit: PAGE_SIZE,
    offset: p.get("offset"),
  };
  for (const [key] of FLAGS) q[key] = p.get(key);
  return q;
}

function signals(row) {
  const parts = [];
  if (row.rage_clicks) parts.push(h("span.badge.bad", { title: "rage clicks" }, `${row.rage_clicks} rage`));
  if (row.dead_clicks) parts.push(h("span.badge.warn", { title: "dead clicks" }, `${row.dead_clicks} dead`));
  if (row.excessive_scrolls) parts.push(h("span.badge.warn", {}, `${row.excessive_scrolls} scroll`));
  if (row.quick_backs) parts.push(h("span.badge.warn", {}, `${row.quick_backs} back`));
  return parts.length ? h("span", {}, ...parts.flatMap((x) => [x, " "])) : h("span.muted", {}, "—");
}

function shortUrl(url) {
  try {
    const u = new URL(url);
    return u.pathname + u.search;
  } catch {
    return fmt.text(url);
  }
}

let selected = -1;
function select(index) {
  const rows = [...document.querySelectorAll('[data-view="sessions"] tbody tr')];
  if (!rows.length) return;
  selected = Math.max(0, Math.min(rows.length - 1, index));
  rows.forEach((r, i) => r.classList.toggle("selected", i === selected));
  rows[selected].focus();
}

drawFilters();
window.addEventListener("popstate", drawFilters);

view(document.getElementById("sessions"), {
  id: "sessions",
  title: "Sessions",
  wide: true,
  note: "Enter or click opens the replay",
  load: () => api("/api/sessions", query(), { shared: false }),
  isEmpty: (d) => !d.sessions.length,
  render: (d, body) => {
    selected = -1;
    body.append(h("p.muted", { "data-total": d.total }, `${fmt.number(d.total)} sessions · showing ${d.offset + 1}–${d.offset + d.sessions.length}`));
    table(
      body,
      d.sessions,
      [
        { key: "started", label: "Started", format: fmt.datetime },
        { key: (r) => r.identity?.email || r.identity?.name || r.visitor?.ip, label: "User", format: fmt.text },
        { key: "entry_page", label: "Entry page", format: (v) => shortUrl(v) },
        { key: "duration_ms", label: "Duration", num: true, format: fmt.ms },
        { key: "page_views", label: "Pages", num: true, format: fmt.number },
        { key: "clicks", label: "Clicks", num: true, format: fmt.number },
        { key: "errors", label: "Errors", num: true, format: (v) => (v ? h("span.badge.bad", {}, v) : "0") },
        { key: (r) => r, label: "Frustration", format: (v) => signals(v) },
        { key: (r) => [r.visitor?.city, r.visitor?.country].filter(Boolean).join(", "), label: "Where", format: fmt.text },
        { key: (r) => [r.visitor?.browser, r.visitor?.os].filter(Boolean).join(" / "), label: "Browser", format: fmt.text },
        {
          key: (r) => r,
          label: "Replay",
          format: (r) => h("a.replay", { href: replayHref({ session_id: r.session_id }), "data-session": r.session_id }, r.replay?.recorded ? "▶ replay" : "details"),
        },
      ],
      { onRow: (row) => location.assign(replayHref({ session_id: row.session_id })) },
    );
    const pager = h("div.controls");
    if (d.offset > 0) pager.append(h("button", { type: "button", onclick: () => setParams({ offset: Math.max(0, d.offset - d.limit) || null }) }, "← Newer"));
    if (d.next_offset !== null && d.next_offset !== undefined) pager.append(h("button", { type: "button", "data-next": "", onclick: () => setParams({ offset: d.next_offset }) }, "Older →"));
    body.append(pager);
  },
});

shortcuts.add("j", "Next session", () => select(selected + 1));
shortcuts.add("k", "Previous session", () => select(selected - 1));
shortcuts.add("o", "Open the selected session's replay", () => {
  const row = document.querySelectorAll('[data-view="sessions"] tbody tr')[selected];
  if (row) row.click();
});
