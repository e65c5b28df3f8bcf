// The Ask AI page: a conversation with follow-ups (the conversation id travels with each
// question; the server keeps the turns), each answer with its SQL (editable, re-run
// through the SQL console endpoint), a result table and a Chart.js chart.
// Data is always put into the page as text, never as HTML.

const API = "/api/insights";
const SHOWN_ROWS = 500;
const $ = (id) => document.getElementById(id);
let conversationId = new URLSearchParams(location.search).get("c");

async function call(path, body) {
  const response = await fetch(API + path, {
    method: body === undefined ? "GET" : "POST",
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = data.error ? data.error.message : `HTTP ${response.status}`;
    throw Object.assign(new Error(message), { status: response.status, code: data.error?.code });
  }
  return data;
}

function setConversation(id) {
  conversationId = id;
  const url = new URL(location.href);
  if (id) url.searchParams.set("c", id); else url.searchParams.delete("c");
  history.replaceState(null, "", url);
  $("conversation-label").textContent = id ? `conversation ${id.slice(0, 8)}… (follow-ups use it)` : "";
}

function isNumericType(type) {
  return /^(Nullable\()?(LowCardinality\()?(U?Int|Float|Decimal)/.test(type || "");
}

function renderTable(box, result) {
  box.replaceChildren();
  if (!result.columns.length) return;
  const table = document.createElement("table");
  const head = table.createTHead().insertRow();
  result.columns.forEach((c) => { const th = document.createElement("th"); th.textContent = c; head.appendChild(th); });
  const body = table.createTBody();
  const numeric = result.types.map(isNumericType);
  for (const row of result.rows.slice(0, SHOWN_ROWS)) {
    const tr = body.insertRow();
    row.forEach((value, i) => {
      const td = tr.insertCell();
      td.textContent = value === null ? "NULL" : typeof value === "object" ? JSON.stringify(value) : String(value);
      td.title = td.textContent;
      if (numeric[i]) td.className = "num";
    });
  }
  box.appendChild(table);
  const note = document.createElement("p");
  note.className = "muted";
  note.textContent = `${result.rows.length} row(s)` + (result.truncated ? " — cut at the server's row limit" : "")
    + (result.rows.length > SHOWN_ROWS ? `, first ${SHOWN_ROWS} shown` : "");
  box.appendChild(note);
}

function renderChart(box, result) {
  const canvas = box.querySelector("canvas");
  const number = box.querySelector(".number");
  if (canvas._chart) { canvas._chart.destroy(); canvas._chart = null; }
  number.textContent = "";
  canvas.hidden = true;
  const chart = result.chart || { kind: "table" };
  if (chart.kind === "number" && result.rows.length === 1) {
    number.textContent = String(result.rows[0][result.columns.indexOf(chart.y[0])]);
    return;
  }
  if (!["bar", "line", "pie"].includes(chart.kind) || !window.Chart) return;
  const xi = result.columns.indexOf(chart.x);
  const rows = result.rows.slice(0, 200);
  canvas.hidden = false;
  canvas._chart = new window.Chart(canvas, {
    type: chart.kind,
    data: {
      labels: rows.map((r) => String(r[xi])),
      datasets: chart.y.map((y) => ({ label: y, data: rows.map((r) => r[result.columns.indexOf(y)]) })),
    },
    options: { responsive: true, maintainAspectRatio: false, animation: false,
      plugins: { legend: { display: chart.y.length > 1 || chart.kind === "pie" } } },
  });
}

function addTurn(question) {
  const node = $("turn-template").content.firstElementChild.cloneNode(true);
  node.querySelector(".question").textContent = question;
  node.querySelector(".narrative").textContent = "Thinking…";
  node.querySelector(".sql-box").hidden = true;
  $("conversation").appendChild(node);
  node.scrollIntoView({ block: "end" });
  return node;
}

function showResult(node, result) {
  renderTable(node.querySelector(".table-box"), result);
  renderChart(node.querySelector(".chart-box"), result);
}

function showAnswer(node, answer) {
  node.classList.toggle("failed", answer.status !== "answered");
  node.querySelector(".title").textContent = answer.title || "";
  node.querySelector(".narrative").textContent = answer.narrative;
  node.querySelector(".explanation").textContent = answer.explanation;
  const tries = answer.attempts.length;
  node.querySelector(".attempts").textContent = answer.repaired
    ? `The first SQL failed (${answer.attempts[0].error}); repaired in ${tries - 1} round.` : "";
  const box = node.querySelector(".sql-box");
  box.hidden = !answer.sql;
  node.querySelector(".sql").value = answer.sql;
  showResult(node, answer);
}

function showError(node, error) {
  node.classList.add("failed");
  node.querySelector(".narrative").textContent = error.message;
}

async function ask(question) {
  const node = addTurn(question);
  $("ask-button").disabled = true;
  try {
    const answer = await call("/ask", { question, conversation_id: conversationId || undefined });
    setConversation(answer.conversation_id);
    showAnswer(node, answer);
  } catch (error) {
    showError(node, error);
  } finally {
    $("ask-button").disabled = false;
  }
}

async function runSql(node, sql) {
  const status = node.querySelector(".status");
  status.textContent = "running…";
  status.classList.remove("error");
  try {
    const result = await call("/sql", { sql });
    node.querySelector(".sql").value = result.sql;
    status.textContent = `ran in ${result.elapsed_ms} ms`;
    showResult(node, result);
  } catch (error) {
    status.textContent = error.message;
    status.classList.add("error");
  }
}

async function runConsole(sql) {
  const node = addTurn("SQL console");
  node.querySelector(".narrative").textContent = "";
  node.querySelector(".sql-box").hidden = false;
  node.querySelector(".sql").value = sql;
  await runSql(node, sql);
}

async function init() {
  $("conversation").addEventListener("click", (event) => {
    if (!event.target.classList.contains("run")) return;
    const node = event.target.closest(".turn");
    runSql(node, node.querySelector(".sql").value);
  });
  $("ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const question = $("question").value.trim();
    if (question) { $("question").value = ""; ask(question); }
  });
  $("question").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("ask-form").requestSubmit();
  });
  $("new-conversation").addEventListener("click", () => { setConversation(null); $("conversation").replaceChildren(); });
  $("console-run").addEventListener("click", () => runConsole($("console-sql").value));
  setConversation(conversationId);

  const [info, cookbook] = await Promise.all([call(""), call("/cookbook")]);
  if (!info.model.configured) {
    const notice = $("model-status");
    notice.hidden = false;
    notice.textContent = "No model is configured, so questions cannot be answered yet: set "
      + "EXOS_OPENAI_API_KEY (and EXOS_OPENAI_MODEL) or EXOS_OPENAI_BASE_URL for insights. "
      + "The SQL console and the cookbook work without a model.";
    $("ask-button").disabled = true;
  }
  const runnable = (list, label, sql) => {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.textContent = label;
    link.title = sql;
    link.addEventListener("click", () => { $("console-sql").value = sql; runConsole(sql); });
    item.appendChild(link);
    list.appendChild(item);
  };
  for (const recipe of cookbook.recipes) runnable($("cookbook"), recipe.question, recipe.sql);
  for (const p of info.primitives) {
    runnable($("primitives"), `${p.function} — ${p.purpose} (Celonis: ${p.celonis_equivalent})`, p.example);
  }
  if (conversationId) {
    try {
      const previous = await call(`/conversations/${conversationId}`);
      for (const turn of previous.turns) {
        const node = addTurn(turn.question);
        node.querySelector(".narrative").textContent = turn.narrative || turn.error;
        node.querySelector(".explanation").textContent = turn.explanation;
        node.querySelector(".sql-box").hidden = !turn.sql;
        node.querySelector(".sql").value = turn.sql;
        // The rows are not stored with the turn: run its SQL again to show them.
        if (turn.sql && turn.status === "answered") runSql(node, turn.sql);
      }
    } catch { setConversation(null); }
  }
}

init();
