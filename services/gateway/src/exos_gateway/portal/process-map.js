// The process map: a directly-follows graph drawn as SVG, activities in columns by how
// early cases reach them (breadth-first from the start activities along the most
// frequent transitions), edge width by frequency, the slowest edges (p95) in red.
import { fmt } from "/assets/portal.js";

const SVG = "http://www.w3.org/2000/svg";
const NODE_W = 150;
const NODE_H = 40;
const COL_GAP = 90;
const ROW_GAP = 22;

function el(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== null) node.textContent = text;
  return node;
}

function ranks(nodes, edges) {
  const rank = new Map();
  const out = new Map(nodes.map((n) => [n.activity, []]));
  for (const e of [...edges].sort((a, b) => b.frequency - a.frequency)) out.get(e.step_from)?.push(e.step_to);
  const starts = nodes.filter((n) => n.starts > 0).sort((a, b) => b.starts - a.starts);
  const queue = (starts.length ? starts : nodes.slice(0, 1)).map((n) => n.activity);
  for (const s of queue) rank.set(s, 0);
  while (queue.length) {
    const current = queue.shift();
    for (const next of out.get(current) || []) {
      if (!rank.has(next)) {
        rank.set(next, rank.get(current) + 1);
        queue.push(next);
      }
    }
  }
  const last = Math.max(0, ...rank.values());
  for (const n of nodes) if (!rank.has(n.activity)) rank.set(n.activity, last + 1);
  return rank;
}

export function drawProcessMap(body, data) {
  const { nodes, edges } = data;
  const rank = ranks(nodes, edges);
  const columns = new Map();
  for (const n of [...nodes].sort((a, b) => b.events - a.events)) {
    const r = rank.get(n.activity);
    if (!columns.has(r)) columns.set(r, []);
    columns.get(r).push(n);
  }
  // Within a column, nodes near the (frequency-weighted) rows of the nodes that lead to
  // them, so edges cross less.
  const row = new Map();
  const incoming = new Map(nodes.map((n) => [n.activity, []]));
  for (const e of edges) incoming.get(e.step_to)?.push(e);
  for (const r of [...columns.keys()].sort((a, b) => a - b)) {
    const list = columns.get(r);
    if (r > 0) {
      const center = (n) => {
        const from = incoming.get(n.activity).filter((e) => row.has(e.step_from) && rank.get(e.step_from) < r);
        const weight = from.reduce((sum, e) => sum + e.frequency, 0);
        return weight ? from.reduce((sum, e) => sum + row.get(e.step_from) * e.frequency, 0) / weight : Infinity;
      };
      const centers = new Map(list.map((n) => [n.activity, center(n)]));
      list.sort((a, b) => centers.get(a.activity) - centers.get(b.activity) || b.events - a.events);
    }
    list.forEach((n, i) => row.set(n.activity, i));
  }
  const position = new Map();
  let height = 0;
  for (const [r, list] of columns) {
    list.forEach((n, i) => position.set(n.activity, { x: 20 + r * (NODE_W + COL_GAP), y: 20 + i * (NODE_H + ROW_GAP) }));
    height = Math.max(height, 20 + list.length * (NODE_H + ROW_GAP));
  }
  const width = 40 + (Math.max(...columns.keys()) + 1) * (NODE_W + COL_GAP) - COL_GAP;
  const svg = el("svg", { class: "process-map", viewBox: `0 0 ${width} ${height + 40}`, role: "img", "aria-label": "Process map" });
  const maxFreq = Math.max(1, ...edges.map((e) => e.frequency));
  const p95s = edges.map((e) => e.p95_s).sort((a, b) => b - a);
  const hotThreshold = p95s[Math.min(2, p95s.length - 1)] ?? Infinity;
  const defs = el("defs");
  svg.append(defs);
  const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "9", markerHeight: "9", markerUnits: "userSpaceOnUse", orient: "auto-start-reverse" });
  marker.append(el("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#98a2b3" }));
  defs.append(marker);
  for (const e of edges) {
    const a = position.get(e.step_from);
    const b = position.get(e.step_to);
    if (!a || !b) continue;
    let d;
    if (b.x > a.x) {
      const x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x, y2 = b.y + NODE_H / 2;
      const mx = (x1 + x2) / 2;
      d = `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`;
    } else if (b.x === a.x) {
      // Same column: an arc out to the right of the column.
      const x = a.x + NODE_W, y1 = a.y + NODE_H / 2, y2 = b.y + NODE_H / 2;
      const bulge = x + 24 + Math.abs(y2 - y1) * 0.15;
      d = `M${x},${y1} C${bulge},${y1} ${bulge},${y2} ${x},${y2}`;
    } else {
      // Backward edges (loops, rework) arc below the nodes.
      const x1 = a.x + NODE_W / 2, y1 = a.y + NODE_H, x2 = b.x + NODE_W / 2, y2 = b.y + NODE_H;
      const dip = Math.max(y1, y2) + 30 + Math.abs(x1 - x2) * 0.08;
      d = `M${x1},${y1} C${x1},${dip} ${x2},${dip} ${x2},${y2}`;
    }
    const hot = e.p95_s >= hotThreshold && e.p95_s > 0;
    const g = el("g", { class: "edge" + (hot ? " hot" : ""), "data-edge": `${e.step_from}>${e.step_to}` });
    g.append(el("path", { d, "stroke-width": String(1 + (5 * e.frequency) / maxFreq), "marker-end": "url(#arrow)" }));
    g.append(el("title", {}, `${e.step_from} → ${e.step_to}: ${fmt.number(e.frequency)} times, ${fmt.number(e.cases)} cases, median ${fmt.seconds(e.p50_s)}, p95 ${fmt.seconds(e.p95_s)}`));
    svg.append(g);
  }
  for (const n of nodes) {
    const p = position.get(n.activity);
    const g = el("g", { class: "node", "data-node": n.activity, transform: `translate(${p.x},${p.y})` });
    g.append(el("rect", { width: NODE_W, height: NODE_H }));
    g.append(el("text", { x: 8, y: 16 }, n.activity.length > 22 ? n.activity.slice(0, 21) + "…" : n.activity));
    g.append(el("text", { x: 8, y: 32, fill: "#667085" }, `${fmt.number(n.events)} events · ${fmt.number(n.cases)} cases`));
    g.append(el("title", {}, `${n.activity}: ${n.events} events, ${n.cases} cases, ${n.starts} start here, ${n.ends} end here`));
    svg.append(g);
  }
  body.append(svg);
  return svg;
}
