// Home: where to send data (the OTLP URL and the SDK snippet) and what is loaded.
import { api, view, h, kpis, table, fmt, sharedHref } from "/assets/portal.js";
import { genericRender, genericEmpty } from "/assets/generic.js";

const CONFIG = JSON.parse(document.getElementById("exos-config").textContent);
const grid = document.getElementById("home-grid");

for (const tile of document.querySelectorAll("a[data-keep-state]")) {
  tile.href = sharedHref(tile.getAttribute("href"));
}

view(grid, {
  id: "stats",
  title: "What is loaded",
  wide: true,
  load: () => api("/api/stats"),
  isEmpty: genericEmpty,
  render: (data, body) => genericRender(data, body),
});

const ingest = CONFIG.ingestUrl || "http://127.0.0.1:4318";
const snippet = `<script src="https://unpkg.com/@hyperdx/browser@0.26.0/build/index.js"></script>
<script>
  window.HyperDX.init({
    url: '${ingest}',          // EXOS ingest (OTLP/HTTP)
    apiKey: '<an EXOS_INGEST_API_KEYS key>',
    service: 'my-app',
    consoleCapture: true, advancedNetworkCapture: true,
    disableReplay: false, maskAllInputs: true,
  });
</script>`;

const send = h(
  "section.card.wide",
  { "data-view": "quick-start", "data-state": "ready" },
  h("header", {}, h("h2", {}, "Send data")),
  h(
    "p",
    {},
    "Point the HyperDX browser SDK (or any OpenTelemetry SDK, OTLP/HTTP protobuf or JSON) at ",
    h("code", { id: "otlp-url" }, ingest),
    ": traces to ",
    h("code", {}, "/v1/traces"),
    ", logs to ",
    h("code", {}, "/v1/logs"),
    ". Sessions appear here within seconds.",
  ),
  h("pre.snippet", {}, snippet),
);
grid.prepend(send);

export { kpis, table, fmt };
