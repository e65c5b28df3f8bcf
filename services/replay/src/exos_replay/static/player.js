// The session replay page: rrweb's Replayer (npm rrweb 2.2.2, served by the replay
// service) in its sandboxed iframe, fed page by page from /api/sessions/{id}/events;
// the heatbar and the five drill-down tabs seek it. No framework, no build step.
"use strict";

(() => {
  const $ = (sel) => document.querySelector(sel);
  const sessionId = document.body.dataset.session;
  const api = `/api/sessions/${encodeURIComponent(sessionId)}`;
  const SEEK_STEP_MS = 5000;
  const state = { replayer: null, playing: false, detail: null, tab: "events", heatbar: null };
  const player = (window.exosPlayer = { state, seek, loaded: false, timings: {} });

  function setState(value) { document.body.dataset.state = value; }

  async function getJSON(url) {
    const response = await fetch(url, { headers: { accept: "application/json" } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const message = body.error ? body.error.message : `${response.status} ${response.statusText}`;
      const error = new Error(message);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  function clock(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return `${h ? `${h}:` : ""}${mm}:${String(s % 60).padStart(2, "0")}`;
  }

  function notice(text, kind) {
    const box = $("#notice");
    box.textContent = text;
    box.className = kind || "";
    box.hidden = false;
  }

  // --- header, badge, details ---

  function renderHeader(d) {
    $("#session-id").textContent = d.session_id;
    const who = [d.identity.name || d.identity.email, d.visitor.city, d.visitor.country,
      d.visitor.browser, d.visitor.os].filter(Boolean).join(" · ");
    $("#who").textContent = `${who}${who ? " · " : ""}${clock(d.duration_ms)}`;
    const facts = {
      started: d.started, pages: d.pages, "page views": d.page_views, clicks: d.clicks,
      errors: d.errors, "rage clicks": d.rage_clicks, "dead clicks": d.dead_clicks,
      "excessive scrolls": d.excessive_scrolls, "quick backs": d.quick_backs,
      returning: d.visitor.returning ? `yes (visit ${d.visitor.visit_count})` : "no",
      recorder: d.integrity.recorder || "—",
    };
    const list = document.createElement("dl");
    for (const [k, v] of Object.entries(facts)) {
      const dt = document.createElement("dt"); dt.textContent = k;
      const dd = document.createElement("dd"); dd.textContent = String(v);
      list.append(dt, dd);
    }
    $("#details").replaceChildren(list);
  }

  function renderBadge(integrity) {
    const badge = $("#badge");
    const words = { ok: "replay OK", degraded: "replay degraded", broken: "replay broken",
      none: "no recording" };
    badge.textContent = words[integrity.status];
    badge.className = `badge ${integrity.status}`;
    badge.dataset.status = integrity.status;
    badge.title = integrity.reasons.join("\n") || "Full snapshot present, chunks complete, "
      + "events in order, no gaps.";
  }

  // --- the player ---

  function fit() {
    const r = state.replayer;
    if (!r || !r.wrapper) return;
    const frame = $("#player-frame");
    const w = Number(r.iframe.width) || 1;
    const h = Number(r.iframe.height) || 1;
    const scale = Math.min(frame.clientWidth / w, (frame.clientHeight || 480) / h, 1);
    r.wrapper.style.transform = `scale(${scale})`;
    r.wrapper.style.transformOrigin = "top left";
  }

  function totalMs() {
    return state.replayer ? state.replayer.getMetaData().totalTime : 0;
  }

  function seek(ms) {
    const r = state.replayer;
    if (!r) return;
    const to = Math.max(0, Math.min(ms, totalMs()));
    if (state.playing) r.play(to); else r.pause(to);
    keepFocus();
    tick();
  }

  // Replaying a recorded focus event focuses an element inside the replay iframe, which
  // takes the keyboard away from this page (Space, arrows, F, ? would reach the
  // replayed document instead): take it back.
  function keepFocus() {
    if (state.replayer && document.activeElement === state.replayer.iframe) {
      $("#stage").focus({ preventScroll: true });
    }
  }
  window.addEventListener("blur", () => setTimeout(keepFocus, 0));

  function togglePlay() {
    const r = state.replayer;
    if (!r) return;
    if (state.playing) {
      r.pause();
      state.playing = false;
    } else {
      const at = r.getCurrentTime();
      r.play(at >= totalMs() ? 0 : at);
      state.playing = true;
    }
    $("#play").textContent = state.playing ? "Pause" : "Play";
  }

  function tick() {
    const r = state.replayer;
    if (!r) return;
    const now = r.getCurrentTime();
    const total = totalMs();
    $("#clock").textContent = `${clock(now)} / ${clock(total)}`;
    const duration = state.heatbar ? state.heatbar.duration_ms : total;
    ExosHeatbar.setPlayhead($("#heatbar"), duration ? now / duration : 0);
  }

  function loop() { tick(); requestAnimationFrame(loop); }

  async function startReplay(firstPage) {
    let page = await firstPage;
    player.timings.firstPage = performance.now();
    // Without a full snapshot the Replayer has no page to build (the detail says why).
    if (page.events.length < 2 || !page.events.some((e) => e.type === 2)) return false;
    const replayer = new rrweb.Replayer(page.events, {
      root: $("#player-frame"),
      skipInactive: $("#skip").checked,
      showWarning: true,
      mouseTail: false,
      speed: Number($("#speed").value),
    });
    state.replayer = player.replayer = window.replayer = replayer;
    replayer.on("resize", fit);
    replayer.on("finish", () => { state.playing = false; $("#play").textContent = "Play"; });
    replayer.pause(0);
    player.timings.built = performance.now();
    fit();
    $("#play").disabled = false;
    setState("ready");
    requestAnimationFrame(loop);
    let pages = 1;
    const skipped = [...page.skipped];
    while (page.next) {
      $("#loading").textContent = `loading… (${pages} pages)`;
      page = await getJSON(`${api}/events?after=${encodeURIComponent(page.next)}`);
      for (const event of page.events) replayer.addEvent(event);
      skipped.push(...page.skipped);
      pages += 1;
    }
    player.skipped = skipped;
    if (skipped.length) {
      // Said, not swallowed: which recorded events the player could not use, and why.
      const reasons = [...new Set(skipped.map((s) => s.reason))].join("; ");
      notice(`${skipped.length} recorded event(s) could not be replayed (${reasons}).`, "warning");
    }
    $("#loading").textContent = "";
    player.loaded = true;
    document.body.dataset.loaded = "true";
    return true;
  }

  // --- heatbar ---

  async function loadHeatbar() {
    const svg = $("#heatbar");
    const width = Math.round(svg.clientWidth || 800);
    state.heatbar = await getJSON(`${api}/heatbar?width=${width}`);
    ExosHeatbar.render(svg, state.heatbar);
    svg.addEventListener("click", (event) => {
      const rect = svg.getBoundingClientRect();
      seek(((event.clientX - rect.left) / rect.width) * state.heatbar.duration_ms);
    });
  }

  // --- tabs ---

  const DESCRIBE = {
    events: (r) => [r.name, r.target_element, r.target_xpath || r.visibility, r.href],
    network: (r) => [r.name, r.status || r.status_code, r.url, `${r.duration_ms.toFixed(0)} ms`],
    console: (r) => [r.level, r.message],
    errors: (r) => [r.source === "log" ? "console" : r.name, r.message],
    perf: (r) => [r.name, r.metrics || `${r.duration_ms.toFixed(0)} ms`, r.href],
  };

  async function loadTab(tab) {
    state.tab = tab;
    for (const b of document.querySelectorAll("#tabs button")) {
      b.setAttribute("aria-selected", String(b.dataset.tab === tab));
    }
    const body = $("#rows tbody");
    body.replaceChildren();
    const data = await getJSON(`${api}/tabs/${tab}`);
    if (state.tab !== tab) return;
    for (const row of data.rows) {
      const tr = document.createElement("tr");
      tr.dataset.offsetMs = String(row.offset_ms);
      tr.className = `row ${tab}`;
      const time = document.createElement("td");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "seek";
      button.textContent = (row.offset_ms < 0 ? "-" : "") + clock(Math.abs(row.offset_ms));
      button.title = row.at;
      time.append(button);
      tr.append(time);
      for (const text of DESCRIBE[tab](row)) {
        const td = document.createElement("td");
        td.textContent = text == null ? "" : String(text);
        tr.append(td);
      }
      tr.addEventListener("click", () => seek(row.offset_ms));
      body.append(tr);
    }
    if (!data.rows.length) {
      const tr = document.createElement("tr");
      tr.innerHTML = "<td class='empty'>Nothing in this tab.</td>";
      body.append(tr);
    }
    body.dataset.tab = tab;
    body.dataset.rows = String(data.rows.length);
  }

  // --- keyboard ---

  function toggleFullscreen() {
    if (document.fullscreenElement) document.exitFullscreen();
    else $("#stage").requestFullscreen?.().catch(() => {});
  }

  function toggleHelp(show) {
    $("#help").hidden = show === undefined ? !$("#help").hidden : !show;
  }

  document.addEventListener("keydown", (event) => {
    if (event.target.closest && event.target.closest("input, select, textarea")) return;
    const r = state.replayer;
    if (event.key === " ") { event.preventDefault(); togglePlay(); }
    else if (event.key === "ArrowLeft" && r) { event.preventDefault(); seek(r.getCurrentTime() - SEEK_STEP_MS); }
    else if (event.key === "ArrowRight" && r) { event.preventDefault(); seek(r.getCurrentTime() + SEEK_STEP_MS); }
    else if (event.key === "f" || event.key === "F") toggleFullscreen();
    else if (event.key === "?") toggleHelp();
    else if (event.key === "Escape") toggleHelp(false);
  });

  $("#play").addEventListener("click", togglePlay);
  $("#fullscreen").addEventListener("click", toggleFullscreen);
  $("#help-button").addEventListener("click", () => toggleHelp());
  $("#speed").addEventListener("change", (e) => state.replayer?.setConfig({ speed: Number(e.target.value) }));
  $("#skip").addEventListener("change", (e) => state.replayer?.setConfig({ skipInactive: e.target.checked }));
  for (const b of document.querySelectorAll("#tabs button")) {
    b.addEventListener("click", () => loadTab(b.dataset.tab));
  }
  document.addEventListener("fullscreenchange", fit);
  window.addEventListener("resize", fit);

  // --- start ---

  function startOffset(detail) {
    const params = new URLSearchParams(location.search);
    if (params.has("t")) return Number(params.get("t")) || 0;
    if (params.has("at")) {
      const at = Date.parse(params.get("at"));
      if (!Number.isNaN(at)) return at - detail.offset_base_ns / 1e6;
    }
    return 0;
  }

  async function main() {
    // The first events and the detail (integrity is checked chunk by chunk) are asked
    // for together: the player starts on the first page without waiting for the rest.
    const firstPage = getJSON(`${api}/events`);
    const replaying = startReplay(firstPage).catch((error) => {
      if (error.status !== 404) notice(`The replay could not start: ${error.message}`, "error");
      return false;
    });
    // The detail scans every chunk for the integrity badge: asked for once the first
    // page is in, so it does not compete with it.
    await firstPage.catch(() => null);
    let detail;
    try {
      detail = state.detail = await getJSON(api);
    } catch (error) {
      setState(error.status === 404 ? "not-found" : "error");
      notice(error.message, "error");
      $("#badge").textContent = "";
      return;
    }
    renderHeader(detail);
    renderBadge(detail.integrity);
    loadTab("events").catch((e) => notice(`tab: ${e.message}`, "error"));
    loadHeatbar()
      .then(() => {
        const gaps = detail.integrity.gaps;
        if (gaps.length) ExosHeatbar.renderGaps($("#heatbar"), gaps, state.heatbar.duration_ms);
      })
      .catch((e) => notice(`heatbar: ${e.message}`, "error"));
    const status = detail.integrity.status;
    if (status === "none") {
      setState("no-recording");
      notice("No recording exists for this session: replay was off or never sent. "
        + "The tabs below still show what happened.", "empty");
      return;
    }
    if (status === "broken") {
      setState("broken");
      notice(`This recording cannot be replayed. ${detail.integrity.reasons.join(" ")}`, "error");
      return;
    }
    if (status === "degraded") notice(detail.integrity.reasons.join(" "), "warning");
    if (!(await replaying)) {
      setState("error");
      if ($("#notice").hidden) notice("The replay could not start: too few events.", "error");
      return;
    }
    const start = startOffset(detail);
    if (start > 0) seek(start);
  }

  main();
})();
