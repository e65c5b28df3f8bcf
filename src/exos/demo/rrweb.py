"""rrweb 2.x recordings of the appraisal portal, as the HyperDX session recorder makes
them: a Meta event (type 4) and a FullSnapshot (type 2) of the page when recording
starts, then IncrementalSnapshot events (type 3): mouse moves (source 1), mouse
interactions (source 2) on the clicked node, scrolls (source 3), inputs (source 5) and
DOM mutations (source 0) when the app reacts.

The DOM is a small single-page app: a persistent frame (top bar with navigation and
search, an action toolbar, a compose box) around a `<main>` whose content each route
replaces. Serialized nodes use rrweb-snapshot's shapes and key order (`id` last, so the
document node's id sits right before `initialOffset`, where enrich reads it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from exos.demo.people import PORTAL_ORIGIN

# rrweb EventType / IncrementalSource / MouseInteractions values.
META, FULL_SNAPSHOT, INCREMENTAL = 4, 2, 3
MUTATION, MOUSE_MOVE, MOUSE_INTERACTION, SCROLL, VIEWPORT_RESIZE, INPUT = 0, 1, 2, 3, 4, 5
MOUSE_UP, MOUSE_DOWN, CLICK = 0, 1, 2
DOM_CHANGING_SOURCES = frozenset({MUTATION, INPUT, 7})

VIEWPORT = (1440, 900)

CSS = (
    "*{box-sizing:border-box}body{margin:0;font:14px/1.4 system-ui,sans-serif;color:#1f2937;"
    "background:#f3f4f6}.topbar{display:flex;align-items:center;gap:16px;height:56px;"
    "padding:0 20px;background:#111827;color:#f9fafb}.topbar a{color:#d1d5db;"
    "text-decoration:none}.topbar a.active{color:#fff;font-weight:600}.logo{font-weight:700;"
    "margin-right:24px}#search{margin-left:auto;width:280px;padding:6px 10px;border-radius:6px;"
    "border:0}.layout{display:grid;grid-template-columns:240px 1fr 360px;gap:16px;"
    "padding:16px}.toolbar{display:flex;flex-direction:column;gap:8px}.btn{padding:8px 12px;"
    "border-radius:6px;border:1px solid #d1d5db;background:#fff;cursor:pointer}"
    ".btn.primary{background:#2563eb;color:#fff;border-color:#2563eb}.btn.busy{opacity:.6;"
    "cursor:progress}.btn.muted{color:#9ca3af}main{background:#fff;border-radius:8px;"
    "padding:16px;min-height:640px}.row{display:flex;justify-content:space-between;"
    "padding:10px 8px;border-bottom:1px solid #e5e7eb;cursor:pointer}.row.unread"
    "{font-weight:600}.badge{display:inline-block;padding:2px 8px;border-radius:999px;"
    "background:#fef3c7;color:#92400e;font-size:12px}.tabs{display:flex;gap:12px;"
    "margin-bottom:12px}.tabs a{padding:6px 10px;border-radius:6px;background:#eef2ff}"
    ".compose textarea,.toolbar textarea{width:100%;min-height:120px}.toast{position:fixed;"
    "right:24px;bottom:24px;padding:10px 14px;border-radius:6px;background:#065f46;color:#fff}"
    ".toast.error{background:#991b1b}dl{display:grid;grid-template-columns:160px 1fr;gap:6px}"
    ".calendar{display:grid;grid-template-columns:repeat(5,1fr);gap:8px}.cal-day{border:1px "
    "solid #e5e7eb;border-radius:6px;min-height:90px;padding:6px}pre{white-space:pre-wrap;"
    "font:12px/1.5 ui-monospace,monospace;background:#f9fafb;padding:12px}"
)

# Where things are on a 1440x900 viewport (centre x, y): clicks and mouse moves land here.
LAYOUT: dict[str, tuple[int, int]] = {
    "nav-inbox": (212, 28),
    "nav-orders": (282, 28),
    "nav-scheduling": (368, 28),
    "nav-dashboard": (462, 28),
    "search": (1160, 28),
    "btn-refresh": (1330, 28),
    "user-menu": (1395, 28),
    "btn-create-order": (136, 96),
    "vendor-select": (136, 140),
    "btn-assign-vendor": (136, 180),
    "inspection-date": (136, 224),
    "btn-schedule-inspection": (136, 264),
    "btn-mark-inspected": (136, 304),
    "btn-route-qc": (136, 344),
    "btn-start-review": (136, 384),
    "revision-notes": (136, 450),
    "btn-request-revision": (136, 520),
    "btn-submit-report": (136, 560),
    "status-select": (136, 604),
    "btn-update-status": (136, 644),
    "btn-close-order": (136, 684),
    "btn-cancel-order": (136, 724),
    "btn-export": (136, 772),
    "sla-badge": (200, 812),
    "compose-body": (1250, 170),
    "btn-send-email": (1370, 262),
    "tab-detail": (300, 132),
    "tab-scheduling": (390, 132),
    "tab-documents": (492, 132),
    "sr-detail": (1120, 64),
    "sr-scheduling": (1120, 92),
    "sr-documents": (1120, 120),
}
for _i in range(1, 9):
    LAYOUT[f"email-row-{_i}"] = (700, 130 + 44 * _i)
    LAYOUT[f"order-row-{_i}"] = (700, 130 + 44 * _i)

TOOLBAR: tuple[tuple[str, str, str], ...] = (  # (id, tag, label)
    ("btn-create-order", "button", "New order"),
    ("vendor-select", "select", ""),
    ("btn-assign-vendor", "button", "Assign vendor"),
    ("inspection-date", "input", ""),
    ("btn-schedule-inspection", "button", "Schedule inspection"),
    ("btn-mark-inspected", "button", "Mark inspected"),
    ("btn-route-qc", "button", "Send to QC"),
    ("btn-start-review", "button", "Start review"),
    ("revision-notes", "textarea", ""),
    ("btn-request-revision", "button", "Request revision"),
    ("btn-submit-report", "button", "Submit report"),
    ("status-select", "select", ""),
    ("btn-update-status", "button", "Update status"),
    ("btn-close-order", "button", "Close order"),
    ("btn-cancel-order", "button", "Cancel order"),
    ("btn-export", "button", "Export CSV"),
    ("sla-badge", "span", "SLA 48h"),
)
TAGS: dict[str, str] = {key: tag for key, tag, _ in TOOLBAR} | {
    "search": "input",
    "compose-body": "textarea",
    "btn-send-email": "button",
    "btn-refresh": "button",
    "user-menu": "span",
    **{f"nav-{k}": "a" for k in ("inbox", "orders", "scheduling", "dashboard")},
    **{f"tab-{k}": "a" for k in ("detail", "scheduling", "documents")},
    **{f"sr-{k}": "a" for k in ("detail", "scheduling", "documents")},
    **{f"email-row-{i}": "div" for i in range(1, 9)},
    **{f"order-row-{i}": "div" for i in range(1, 9)},
}


def xpath_of(key: str) -> str:
    """What the user-interaction instrumentation records for an element with an id."""
    return f'//*[@id="{key}"]'


def page_url(route: str) -> str:
    return PORTAL_ORIGIN + route


@dataclass(frozen=True, slots=True)
class Route:
    """A view of the app: its path and, for order views, the order it shows."""

    path: str
    # inbox | orders | dashboard | scheduling | order_detail | order_scheduling | order_documents
    kind: str
    order_id: str = ""

    @property
    def url(self) -> str:
        return page_url(self.path)


def route_for(kind: str, order_id: str = "") -> Route:
    paths = {
        "inbox": "/inbox",
        "orders": "/orders",
        "dashboard": "/dashboard",
        "scheduling": "/scheduling",
        "order_detail": f"/orders/{order_id}",
        "order_scheduling": f"/orders/{order_id}/scheduling",
        "order_documents": f"/orders/{order_id}/documents",
    }
    return Route(paths[kind], kind, order_id)


class PortalDom:
    """One page load's DOM: builds the full snapshot and the mutations routes and
    clicks cause, handing out node ids as rrweb's mirror would."""

    def __init__(self, operator_name: str, preview_text: str = "") -> None:
        self._operator = operator_name
        self.preview_text = preview_text  # a big report preview on document views
        self._reset()

    def _reset(self) -> None:
        self._next = 1
        self.ids: dict[str, int] = {}  # element key -> node id, for what is in the DOM now
        self.main_id = 0
        self.toasts_id = 0
        self.document_id = 0
        self._content: list[int] = []  # node ids of <main>'s children
        self._transient: dict[str, tuple[int, int]] = {}  # toast, search box: (parent, id)

    # -- serialized nodes --

    def _id(self, key: str | None = None) -> int:
        node_id = self._next
        self._next += 1
        if key is not None:
            self.ids[key] = node_id
        return node_id

    def _el(
        self,
        tag: str,
        attrs: dict[str, str],
        children: list[dict[str, Any]],
        key: str | None = None,
    ) -> dict[str, Any]:
        node_id = self._id(key if key is not None else attrs.get("id"))
        return {
            "type": 2,
            "tagName": tag,
            "attributes": attrs,
            "childNodes": children,
            "id": node_id,
        }

    def _text(self, text: str, style: bool = False) -> dict[str, Any]:
        node: dict[str, Any] = {"type": 3, "textContent": text}
        if style:
            node["isStyle"] = True
        node["id"] = self._id()
        return node

    def _control(self, key: str, tag: str, label: str) -> dict[str, Any]:
        if tag == "button":
            cls = "btn muted" if key == "btn-export" else "btn"
            return self._el(
                "button", {"id": key, "class": cls, "type": "button"}, [self._text(label)]
            )
        if tag == "select":
            options = [
                self._el("option", {"value": v}, [self._text(v)]) for v in ("", "V-1001", "V-1002")
            ]
            return self._el("select", {"id": key}, options)
        if tag == "span":
            return self._el("span", {"id": key, "class": "badge"}, [self._text(label)])
        attrs = {"id": key} if tag == "textarea" else {"id": key, "placeholder": "yyyy-mm-dd"}
        return self._el(tag, attrs, [])

    # -- the page --

    def full_snapshot(self, route: Route) -> dict[str, Any]:
        """FullSnapshot data for a fresh page on `route` (ids restart at 1)."""
        self._reset()
        self.document_id = self._id()
        doctype = {"type": 1, "name": "html", "publicId": "", "systemId": "", "id": self._id()}
        head = self._el(
            "head",
            {},
            [
                self._el("meta", {"charset": "utf-8"}, []),
                self._el("title", {}, [self._text("Appraisal Ops Portal")]),
                self._el("style", {}, [self._text(CSS, style=True)]),
            ],
        )
        nav = [
            self._el("a", {"id": f"nav-{k}", "href": f"/{k}"}, [self._text(k.title())])
            for k in ("inbox", "orders", "scheduling", "dashboard")
        ]
        topbar = self._el(
            "header",
            {"class": "topbar"},
            [
                self._el("span", {"class": "logo"}, [self._text("Appraisal Ops")]),
                self._el("nav", {}, nav),
                self._el(
                    "input", {"id": "search", "type": "search", "placeholder": "Search orders"}, []
                ),
                self._el("button", {"id": "btn-refresh", "class": "btn"}, [self._text("Refresh")]),
                self._el("span", {"id": "user-menu"}, [self._text(self._operator)]),
            ],
        )
        toolbar = self._el("aside", {"class": "toolbar"}, [self._control(*c) for c in TOOLBAR])
        self.main_id = self._id()
        content = self._content_nodes(route)
        main = {
            "type": 2,
            "tagName": "main",
            "attributes": {"id": "main"},
            "childNodes": content,
            "id": self.main_id,
        }
        self._content = [node["id"] for node in content]
        compose = self._el(
            "section",
            {"class": "compose"},
            [
                self._el("textarea", {"id": "compose-body", "placeholder": "Write a reply"}, []),
                self._el(
                    "button", {"id": "btn-send-email", "class": "btn primary"}, [self._text("Send")]
                ),
            ],
        )
        toasts = self._el("div", {"id": "toasts"}, [])
        self.toasts_id = toasts["id"]
        body = self._el(
            "body",
            {},
            [topbar, self._el("div", {"class": "layout"}, [toolbar, main, compose]), toasts],
        )
        html = self._el("html", {"lang": "en"}, [head, body])
        document = {
            "type": 0,
            "childNodes": [doctype, html],
            "compatMode": "CSS1Compat",
            "id": self.document_id,
        }
        return {"node": document, "initialOffset": {"left": 0, "top": 0}}

    def _content_nodes(self, route: Route) -> list[dict[str, Any]]:
        kind, oid = route.kind, route.order_id
        for key in [
            k for k in self.ids if k.startswith(("email-row-", "order-row-", "tab-", "doc-"))
        ]:
            del self.ids[key]
        if kind == "inbox":
            rows = [
                self._el(
                    "div",
                    {"id": f"email-row-{i}", "class": "row unread" if i < 3 else "row"},
                    [
                        self._text(f"Order update #{i}"),
                        self._el(
                            "span", {"class": "badge"}, [self._text("new" if i < 3 else "read")]
                        ),
                    ],
                )
                for i in range(1, 9)
            ]
            return [
                self._el("h2", {}, [self._text("Inbox")]),
                self._el("div", {"id": "email-list"}, rows),
            ]
        if kind in ("orders", "dashboard", "scheduling"):
            title = {
                "orders": "Orders",
                "dashboard": "Team dashboard",
                "scheduling": "Inspection calendar",
            }[kind]
            rows = [
                self._el(
                    "div",
                    {"id": f"order-row-{i}", "class": "row"},
                    [self._text(f"Order {i} - in progress")],
                )
                for i in range(1, 9)
            ]
            return [
                self._el("h2", {}, [self._text(title)]),
                self._el("div", {"class": "list"}, rows),
            ]
        tabs = self._el(
            "div",
            {"class": "tabs"},
            [
                self._el(
                    "a", {"id": "tab-detail", "href": f"/orders/{oid}"}, [self._text("Detail")]
                ),
                self._el(
                    "a",
                    {"id": "tab-scheduling", "href": f"/orders/{oid}/scheduling"},
                    [self._text("Scheduling")],
                ),
                self._el(
                    "a",
                    {"id": "tab-documents", "href": f"/orders/{oid}/documents"},
                    [self._text("Documents")],
                ),
            ],
        )
        header = self._el("h2", {}, [self._text(f"Order {oid}")])
        if kind == "order_detail":
            fields = []
            for label in ("Line of business", "Client", "Vendor", "Status", "Due"):
                fields += [
                    self._el("dt", {}, [self._text(label)]),
                    self._el("dd", {}, [self._text("-")]),
                ]
            body = self._el("dl", {}, fields)
        elif kind == "order_scheduling":
            days = [
                self._el("div", {"class": "cal-day"}, [self._text(d)])
                for d in ("Mon", "Tue", "Wed", "Thu", "Fri")
            ]
            body = self._el("div", {"class": "calendar"}, days)
        else:
            docs = [
                self._el("div", {"id": f"doc-{i}", "class": "row"}, [self._text(name)])
                for i, name in enumerate(
                    ("Appraisal report.pdf", "Photos.zip", "Invoice.pdf"), start=1
                )
            ]
            preview = self._el(
                "pre",
                {"id": "report-preview"},
                [self._text(self.preview_text or "Report preview")],
            )
            body = self._el("div", {}, [*docs, preview])
        return [header, tabs, body]

    # -- mutations (IncrementalSnapshot source 0 payloads) --

    @staticmethod
    def _flatten(node: dict[str, Any], parent_id: int, out: list[dict[str, Any]]) -> None:
        """rrweb adds a subtree node by node (skipChild), parents first."""
        children = node.get("childNodes", [])
        shallow = {k: ([] if k == "childNodes" else v) for k, v in node.items()}
        out.append({"parentId": parent_id, "nextId": None, "node": shallow})
        for child in children:
            PortalDom._flatten(child, node["id"], out)

    def navigate(self, route: Route) -> dict[str, Any]:
        removes = [{"parentId": self.main_id, "id": node_id} for node_id in self._content]
        for parent_id, node_id in self._transient.values():
            removes.append({"parentId": parent_id, "id": node_id})
        self._transient.clear()
        self.ids = {k: v for k, v in self.ids.items() if not k.startswith("sr-")}
        content = self._content_nodes(route)
        self._content = [node["id"] for node in content]
        adds: list[dict[str, Any]] = []
        for node in content:
            self._flatten(node, self.main_id, adds)
        return {"source": MUTATION, "texts": [], "attributes": [], "removes": removes, "adds": adds}

    def busy(self, key: str, busy: bool) -> dict[str, Any]:
        cls = "btn busy" if busy else "btn"
        return {
            "source": MUTATION,
            "texts": [],
            "attributes": [{"id": self.ids[key], "attributes": {"class": cls}}],
            "removes": [],
            "adds": [],
        }

    def toast(self, text: str, error: bool = False) -> dict[str, Any]:
        node = self._el("div", {"class": "toast error" if error else "toast"}, [self._text(text)])
        old = self._transient.pop("toast", None)
        removes = [] if old is None else [{"parentId": old[0], "id": old[1]}]
        self._transient["toast"] = (self.toasts_id, node["id"])
        adds: list[dict[str, Any]] = []
        self._flatten(node, self.toasts_id, adds)
        return {"source": MUTATION, "texts": [], "attributes": [], "removes": removes, "adds": adds}

    def search_results(self, order_id: str) -> dict[str, Any]:
        links = [
            self._el(
                "a",
                {"id": f"sr-{k}", "href": f"/orders/{order_id}{suffix}"},
                [self._text(f"{order_id} {k}")],
            )
            for k, suffix in (
                ("detail", ""),
                ("scheduling", "/scheduling"),
                ("documents", "/documents"),
            )
        ]
        box = self._el("div", {"id": "search-results"}, links)
        old = self._transient.pop("search-results", None)
        removes = [] if old is None else [{"parentId": old[0], "id": old[1]}]
        self._transient["search-results"] = (self.main_id, box["id"])
        adds: list[dict[str, Any]] = []
        self._flatten(box, self.main_id, adds)
        return {"source": MUTATION, "texts": [], "attributes": [], "removes": removes, "adds": adds}

    def row_opened(self, key: str) -> dict[str, Any]:
        return {
            "source": MUTATION,
            "texts": [],
            "attributes": [{"id": self.ids[key], "attributes": {"class": "row"}}],
            "removes": [],
            "adds": [],
        }

    def drop_preview(self) -> None:
        self.preview_text = ""

    def has(self, key: str) -> bool:
        return key in self.ids


class Recording:
    """One session's rrweb events, kept in time order with strictly increasing stamps."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def add(self, ms: int, event_type: int, data: dict[str, Any]) -> None:
        self.events.append({"type": event_type, "data": data, "timestamp": ms})

    def incremental(self, ms: int, data: dict[str, Any]) -> None:
        self.add(ms, INCREMENTAL, data)

    def finish(self) -> list[dict[str, Any]]:
        """Events sorted by time (stable), each at least 1 ms after the previous one."""
        self.events.sort(key=lambda e: e["timestamp"])
        last = -1
        for event in self.events:
            if event["timestamp"] <= last:
                event["timestamp"] = last + 1
            last = event["timestamp"]
        return self.events


def is_dom_change(event: dict[str, Any]) -> bool:
    """What enrich's dead-click rule counts as the page reacting."""
    if event["type"] in (FULL_SNAPSHOT, META):
        return True
    return event["type"] == INCREMENTAL and event["data"].get("source") in DOM_CHANGING_SOURCES


def report_preview(approx_bytes: int) -> str:
    """ASCII text of an appraisal report, for the one snapshot big enough to be chunked."""
    lines = []
    n = size = 0
    while size < approx_bytes:
        n += 1
        lines.append(
            f"{n:05d}  Comparable sale {n % 97:02d}: 1,{n % 900 + 100:03d} sq ft, "
            f"{n % 5 + 2} bed / {n % 3 + 1} bath, sold ${180 + n % 220},000, "
            f"adjusted ${176 + n % 231},500; condition C{n % 4 + 2}, quality Q{n % 3 + 3}."
        )
        size += len(lines[-1]) + 1
    return "\n".join(lines)
