// Keyboard shortcuts: `?` lists them, Esc closes any dialog (the browser's own dialog
// behaviour), two-key sequences like `g p`. Keys typed into a field are left alone.

const SEQUENCE_TIMEOUT_MS = 1200;

export function createShortcuts(dialog, h) {
  const entries = []; // {keys, description, group, run}
  let pending = null;
  let pendingTimer = null;

  function add(keys, description, run, group = "This page") {
    entries.push({ keys, description, run, group });
  }

  function showOverlay() {
    const existing = document.getElementById("shortcuts");
    if (existing) {
      existing.close();
      return;
    }
    const groups = new Map();
    const all = [
      { keys: "?", description: "Show or hide this list", group: "Everywhere" },
      { keys: "Esc", description: "Close a dialog or this list", group: "Everywhere" },
      ...entries,
      { keys: "Space", description: "Play / pause", group: "Replay player" },
      { keys: "← →", description: "Seek back / forward", group: "Replay player" },
      { keys: "f", description: "Full screen", group: "Replay player" },
    ];
    for (const entry of all) {
      if (!groups.has(entry.group)) groups.set(entry.group, []);
      groups.get(entry.group).push(entry);
    }
    const sections = [...groups].map(([group, list]) =>
      h(
        "section",
        {},
        h("h3", {}, group),
        h(
          "dl.keys",
          {},
          list.map((e) => h("div", {}, h("dt", {}, e.keys.split(" ").map((k) => h("kbd", {}, k))), h("dd", {}, e.description))),
        ),
      ),
    );
    dialog("shortcuts", "Keyboard shortcuts", ...sections);
  }

  function typing(target) {
    return target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (event.key === "?") {
      event.preventDefault();
      showOverlay();
      return;
    }
    if (document.querySelector("dialog[open]")) return; // a dialog has the keyboard
    const key = event.key;
    const typed = pending ? `${pending} ${key}` : key;
    const match = entries.find((e) => e.keys === typed);
    if (match) {
      event.preventDefault();
      clearTimeout(pendingTimer);
      pending = null;
      match.run(event);
      return;
    }
    if (!pending && entries.some((e) => e.keys.startsWith(key + " "))) {
      pending = key;
      clearTimeout(pendingTimer);
      pendingTimer = setTimeout(() => (pending = null), SEQUENCE_TIMEOUT_MS);
      return;
    }
    pending = null;
  });

  return { add, showOverlay, entries };
}
