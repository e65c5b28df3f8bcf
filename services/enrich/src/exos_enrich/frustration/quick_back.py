"""Quick back: A -> B -> A with at most a window (default 15 s) spent on B.

Page views come from `documentLoad` spans (a page load: `location.href`, else
`http.url`) and `routeChange` spans (a single-page-app navigation: `location.href` is
the new page, `prev.href` the one left). URLs are compared without their fragment
unless the fragment is a route (`#/...`, `#!/...`). A reload of the same page is not a
navigation. The signal's time is the arrival on B, its duration the time on B.
Navigations that arrive older than the last one seen are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from exos_common.messages import SpanRecord
from exos_enrich.frustration.signals import NS_PER_MS, NS_PER_S, Candidate

RULE = "quick_back"
NAVIGATION_SPANS = ("documentLoad", "routeChange")


def page_key(url: str) -> str:
    base, hash_mark, fragment = url.partition("#")
    if hash_mark and fragment.startswith(("/", "!/")):
        return url
    return base


def navigation_of(span: SpanRecord) -> tuple[str, str] | None:
    """(new page, previous page or "") when the span is a navigation."""
    if span.name not in NAVIGATION_SPANS:
        return None
    attrs = span.attributes
    url = attrs.get("location.href") or attrs.get("http.url") or attrs.get("url.full", "")
    if not url:
        return None
    return url, attrs.get("prev.href", "") if span.name == "routeChange" else ""


@dataclass(slots=True)
class QuickBackState:
    """What a session snapshot keeps of the detector (the window is configuration)."""

    pages: list[tuple[str, str, int]]  # (key, url, arrival ns), the last two


class QuickBackDetector:
    __slots__ = ("_pages", "_window_ns")

    def __init__(self, window_s: float) -> None:
        self._window_ns = int(window_s * NS_PER_S)
        self._pages: list[tuple[str, str, int]] = []  # (key, url, arrival ns), last two

    def navigation(self, url: str, previous: str, timestamp_ns: int) -> list[Candidate]:
        key = page_key(url)
        pages = self._pages
        if not pages and previous and page_key(previous) != key:
            # The page the app started on, known only from routeChange's prev.href.
            pages.append((page_key(previous), previous, timestamp_ns))
        if pages and timestamp_ns < pages[-1][2]:
            return []
        if pages and pages[-1][0] == key:
            return []
        out: list[Candidate] = []
        if len(pages) == 2 and pages[0][0] == key:
            _, via_url, via_ns = pages[1]
            if timestamp_ns - via_ns <= self._window_ns:
                out.append(
                    Candidate(
                        rule=RULE,
                        start_ns=via_ns,
                        end_ns=timestamp_ns,
                        key=key,
                        attributes={
                            "location.href": url,
                            "frustration.from_url": url,
                            "frustration.via_url": via_url,
                            "frustration.duration_ms": str((timestamp_ns - via_ns) // NS_PER_MS),
                        },
                    )
                )
        pages.append((key, url, timestamp_ns))
        del pages[:-2]
        return out

    def snapshot_state(self) -> QuickBackState:
        return QuickBackState(self._pages)

    def load_state(self, state: QuickBackState) -> None:
        self._pages = state.pages[-2:]
