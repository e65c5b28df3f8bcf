// Object-centric process mining: every GET route the API documents under /api/ocpm/
// (object interactions, vendor contention, category transitions, lifecycles, ...),
// each drawn as its own view from what it returns.
import { api, view, h } from "/assets/portal.js";
import { genericRender, genericEmpty, label } from "/assets/generic.js";

let documented = null;

async function ocpmRoutes() {
  if (!documented) {
    documented = fetch("/openapi.json", { headers: { accept: "application/json" } }).then((r) => {
      if (!r.ok) throw new Error(`/openapi.json answered ${r.status}`);
      return r.json();
    });
  }
  const spec = await documented;
  return Object.entries(spec.paths)
    .filter(([path, item]) => path.startsWith("/api/ocpm/") && item.get && !path.includes("{"))
    .filter(([, item]) => !(item.get.parameters || []).some((p) => p.required))
    .map(([path, item]) => ({ path, summary: item.get.summary || label(path.split("/").pop()), description: item.get.description || "" }));
}

export function ocpm(panel) {
  const grid = h("div.grid");
  panel.append(grid);
  const status = h("p.state.loading", {}, "Loading the OCPM views…");
  panel.prepend(status);
  ocpmRoutes()
    .then((routes) => {
      status.remove();
      if (!routes.length) {
        panel.prepend(h("p.state.empty", { "data-state": "empty" }, "The API documents no OCPM route yet."));
        return;
      }
      for (const route of routes) {
        view(grid, {
          id: "ocpm-" + route.path.split("/").pop(),
          title: route.summary,
          wide: true,
          note: route.path,
          load: () => api(route.path),
          isEmpty: genericEmpty,
          render: (data, body) => {
            if (route.description) body.append(h("p.muted", {}, route.description));
            genericRender(data, body);
          },
        });
      }
    })
    .catch((error) => {
      status.className = "state error";
      status.textContent = error.message;
    });
}
