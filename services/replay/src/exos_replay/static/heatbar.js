// The activity heatbar (docs/replay.md): a Catmull-Rom spline through the
// bucket values, markers for errors, rage clicks and navigations, a playhead.
"use strict";

window.ExosHeatbar = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const HEIGHT = 48;
  const PAD = 3;

  // Catmull-Rom through points [x, y], as cubic Bezier segments (tension 0.5).
  function catmullRom(points) {
    if (points.length === 0) return "";
    let d = `M${points[0][0].toFixed(2)},${points[0][1].toFixed(2)}`;
    for (let i = 0; i < points.length - 1; i++) {
      const p0 = points[Math.max(0, i - 1)];
      const p1 = points[i];
      const p2 = points[i + 1];
      const p3 = points[Math.min(points.length - 1, i + 2)];
      const c1 = [p1[0] + (p2[0] - p0[0]) / 6, p1[1] + (p2[1] - p0[1]) / 6];
      const c2 = [p2[0] - (p3[0] - p1[0]) / 6, p2[1] - (p3[1] - p1[1]) / 6];
      // Keep the curve inside the bar (a spline overshoots between steep points).
      c1[1] = Math.min(HEIGHT, Math.max(0, c1[1]));
      c2[1] = Math.min(HEIGHT, Math.max(0, c2[1]));
      d += ` C${c1[0].toFixed(2)},${c1[1].toFixed(2)} ${c2[0].toFixed(2)},${c2[1].toFixed(2)}`
        + ` ${p2[0].toFixed(2)},${p2[1].toFixed(2)}`;
    }
    return d;
  }

  function markerShape(kind, x) {
    const y = HEIGHT / 2;
    if (kind === "error") {
      const c = document.createElementNS(NS, "circle");
      c.setAttribute("cx", x); c.setAttribute("cy", y); c.setAttribute("r", 4);
      return c;
    }
    const p = document.createElementNS(NS, "polygon");
    const pts = kind === "rage_click"
      ? [[x, y - 5], [x + 5, y + 4], [x - 5, y + 4]]
      : [[x, y - 5], [x + 5, y], [x, y + 5], [x - 5, y]];
    p.setAttribute("points", pts.map((q) => q.join(",")).join(" "));
    return p;
  }

  function render(svg, bar) {
    const width = svg.clientWidth || svg.getBoundingClientRect().width || 800;
    svg.setAttribute("viewBox", `0 0 ${width} ${HEIGHT}`);
    svg.dataset.buckets = String(bar.buckets);
    svg.dataset.durationMs = String(bar.duration_ms);
    const top = bar.max_value || 1;
    const step = width / bar.buckets;
    const line = bar.values.map((v, i) => [
      (i + 0.5) * step,
      HEIGHT - PAD - (v / top) * (HEIGHT - 2 * PAD),
    ]);
    const curve = catmullRom(line);
    const area = `M0,${HEIGHT} L${line[0][0].toFixed(2)},${line[0][1].toFixed(2)}`
      + curve.slice(curve.indexOf(" C") >= 0 ? curve.indexOf(" C") : curve.length)
      + ` L${width},${line[line.length - 1][1].toFixed(2)} L${width},${HEIGHT} Z`;
    svg.querySelector("#heat-area").setAttribute("d", area);
    const group = svg.querySelector("#heat-markers");
    group.replaceChildren();
    for (const m of bar.markers) {
      const x = Math.min(width - 1, Math.max(1, (m.offset_ms / bar.duration_ms) * width));
      const shape = markerShape(m.kind, x);
      shape.setAttribute("class", `marker ${m.kind}`);
      shape.dataset.offsetMs = String(m.offset_ms);
      shape.dataset.bucket = String(m.bucket);
      const title = document.createElementNS(NS, "title");
      title.textContent = `${m.kind.replace("_", " ")}${m.count > 1 ? ` ×${m.count}` : ""}: ${m.label}`;
      shape.appendChild(title);
      group.appendChild(shape);
    }
    return { width, durationMs: bar.duration_ms };
  }

  // Where recorded events never arrived (integrity gaps): grey bars, so a jump in the
  // replay has a visible cause.
  function renderGaps(svg, gaps, durationMs) {
    const width = svg.clientWidth || 800;
    const group = svg.querySelector("#heat-markers");
    for (const gap of gaps) {
      const bar = document.createElementNS(NS, "rect");
      const x = Math.min(width - 3, Math.max(0, (gap.offset_ms / durationMs) * width));
      bar.setAttribute("x", x - 1.5);
      bar.setAttribute("y", 0);
      bar.setAttribute("width", 3);
      bar.setAttribute("height", HEIGHT);
      bar.setAttribute("class", "marker gap");
      bar.dataset.offsetMs = String(gap.offset_ms);
      const title = document.createElementNS(NS, "title");
      title.textContent = `${gap.missing_events} recorded event(s) missing here`;
      bar.appendChild(title);
      group.appendChild(bar);
    }
  }

  function setPlayhead(svg, fraction) {
    const width = svg.clientWidth || 800;
    const x = Math.min(width, Math.max(0, fraction * width));
    const head = svg.querySelector("#playhead");
    head.setAttribute("x1", x);
    head.setAttribute("x2", x);
  }

  return { render, renderGaps, setPlayhead, catmullRom };
})();
