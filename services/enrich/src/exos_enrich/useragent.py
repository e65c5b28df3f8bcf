"""User-Agent -> browser, OS, versions and device type, with ua-parser (1.x API).

Names are normalised to what people filter on: `Mobile Safari` is `Safari` and
`Chrome Mobile` is `Chrome` (the device type says it is mobile), `Mac OS X` is `macOS`.
A User-Agent string is parsed once per process and then served from an LRU: a session
sends the same one on every request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import ua_parser

_BROWSER_NAMES = {
    "Mobile Safari": "Safari",
    "Mobile Safari UI/WKWebView": "Safari WebView",
    "Chrome Mobile": "Chrome",
    "Chrome Mobile iOS": "Chrome",
    "Chrome Mobile WebView": "Chrome WebView",
    "Firefox Mobile": "Firefox",
    "Firefox iOS": "Firefox",
    "Edge Mobile": "Edge",
    "Opera Mobile": "Opera",
    "Samsung Internet": "Samsung Internet",
}
_OS_NAMES = {"Mac OS X": "macOS", "Other": ""}
_TABLET_FAMILIES = ("iPad", "Kindle", "Tablet", "Galaxy Tab", "Nexus 7", "Nexus 9", "Nexus 10")


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    browser: str = ""
    browser_version: str = ""
    os: str = ""
    os_version: str = ""
    device_type: str = ""  # desktop | mobile | tablet | bot ("" when there is no UA)


def _version(*parts: str | None) -> str:
    present: list[str] = []
    for part in parts:
        if part is None or part == "":
            break
        present.append(part)
    return ".".join(present)


def _device_type(ua: str, result: ua_parser.Result) -> str:
    device = result.device.family if result.device else ""
    os_family = result.os.family if result.os else ""
    if device == "Spider":
        return "bot"
    if any(family in device for family in _TABLET_FAMILIES) or "Tablet" in ua:
        return "tablet"
    if os_family == "Android":
        # Android phones say "Mobile"; Android tablets do not (Google's UA guidance).
        return "mobile" if "Mobile" in ua else "tablet"
    if device in ("iPhone", "iPod") or os_family in ("iOS", "Windows Phone", "BlackBerry OS"):
        return "mobile"
    if "Mobi" in ua:
        return "mobile"
    return "desktop"


def describe(ua: str) -> DeviceInfo:
    """Parse one User-Agent string (no cache)."""
    if not ua.strip():
        return DeviceInfo()
    result = ua_parser.parse(ua)
    browser = browser_version = os_name = os_version = ""
    if result.user_agent is not None:
        agent = result.user_agent
        browser = _BROWSER_NAMES.get(agent.family, agent.family)
        browser_version = _version(agent.major, agent.minor, agent.patch, agent.patch_minor)
    if result.os is not None:
        system = result.os
        os_name = _OS_NAMES.get(system.family, system.family)
        os_version = _version(system.major, system.minor, system.patch, system.patch_minor)
    return DeviceInfo(
        browser=browser if browser != "Other" else "",
        browser_version=browser_version,
        os=os_name,
        os_version=os_version,
        device_type=_device_type(ua, result),
    )


class UserAgentParser:
    """`describe` behind a bounded, thread-safe LRU keyed by the User-Agent string."""

    def __init__(self, cache_size: int = 4096) -> None:
        self._cache: OrderedDict[str, DeviceInfo] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def parse(self, ua: str) -> DeviceInfo:
        with self._lock:
            found = self._cache.get(ua)
            if found is not None:
                self._cache.move_to_end(ua)
                return found
        info = describe(ua)
        with self._lock:
            self._cache[ua] = info
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return info
