// Docs: a copy button on every code block (the cookbook's SQL goes straight into the
// Ask AI SQL console or clickhouse-client).
import { h } from "/assets/portal.js";

for (const pre of document.querySelectorAll("article.doc pre")) {
  const button = h("button.copy", { type: "button", title: "Copy" }, "Copy");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(pre.innerText);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Select and copy";
    }
  });
  pre.before(h("div.copy-row", {}, button));
}
