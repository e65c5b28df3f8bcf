"""IP -> country, region, city, AS number and organisation.

Offline by default: geoip2fast ships MaxMind GeoLite2 country + ASN data inside its wheel
(`geoip2fast-asn-ipv6.dat.gz`: country code and AS *organisation name* for IPv4 and IPv6;
it has no AS numbers and no cities). A MaxMind City database (`EXOS_GEOIP_MMDB`) adds
city and region, an ASN database (`EXOS_GEOIP_ASN_MMDB`) the AS number.

geoip2fast keeps its tables in module globals, so one data file is loaded once per
process (~0.3 s, ~120 MB for the ASN+IPv6 file) and shared; a lookup costs ~20 µs.
"""

from __future__ import annotations

import ipaddress
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import maxminddb


@dataclass(frozen=True, slots=True)
class GeoInfo:
    country: str = ""  # ISO 3166-1 alpha-2 (`US`)
    country_name: str = ""
    region: str = ""
    city: str = ""
    asn: str = ""  # the number, as a string (`7922`)
    org: str = ""  # AS organisation (`Comcast Cable` from MaxMind, `COMCAST-7922` offline)
    is_private: bool = False


class GeoLookup(Protocol):
    def lookup(self, ip: str) -> GeoInfo: ...


class NoGeo:
    """Geo turned off: every lookup is empty."""

    def lookup(self, ip: str) -> GeoInfo:
        return GeoInfo()


_OFFLINE_LOCK = threading.Lock()
_OFFLINE: dict[str, Any] = {}


def _offline_database(data_file: str) -> Any:
    with warnings.catch_warnings():  # the library's regexes warn when first compiled
        warnings.simplefilter("ignore", DeprecationWarning)
        from geoip2fast import GeoIP2Fast

    with _OFFLINE_LOCK:
        if not _OFFLINE:
            _OFFLINE[data_file] = GeoIP2Fast(geoip2fast_data_file=data_file)
        elif data_file not in _OFFLINE:
            loaded = next(iter(_OFFLINE))
            raise RuntimeError(
                f"geoip2fast already holds {loaded!r} in this process (its tables are "
                f"module globals); cannot also load {data_file!r}"
            )
        return _OFFLINE[data_file]


class OfflineGeo:
    """Country and AS organisation from geoip2fast's bundled data."""

    def __init__(self, data_file: str = "geoip2fast-asn-ipv6.dat.gz") -> None:
        self._db = _offline_database(data_file)

    def lookup(self, ip: str) -> GeoInfo:
        try:
            found = self._db.lookup(ip)
        except Exception:  # the library raises on some malformed input
            return GeoInfo()
        if found.is_private:
            return GeoInfo(is_private=True)
        code = str(found.country_code or "")
        if len(code) != 2 or not code.isalpha():  # "--" / "" / error codes
            code = ""
        return GeoInfo(
            country=code,
            country_name=str(found.country_name or "") if code else "",
            org=str(getattr(found, "asn_name", "") or ""),
        )


def _name(record: Mapping[str, Any] | None) -> str:
    names = (record or {}).get("names") or {}
    return str(names.get("en", "")) if isinstance(names, Mapping) else ""


class MaxMindCity:
    """City, region and country from a MaxMind City database (GeoLite2 or GeoIP2)."""

    def __init__(self, path: Path | str) -> None:
        self._reader = maxminddb.open_database(str(path))

    def lookup(self, ip: str) -> GeoInfo:
        try:
            found = self._reader.get(ip)
        except ValueError:
            return GeoInfo()
        if not isinstance(found, Mapping):
            return GeoInfo()
        country: Any = found.get("country") or {}
        subdivisions: Any = found.get("subdivisions") or [{}]
        first_subdivision = subdivisions[0] if isinstance(subdivisions, list) else {}
        city: Any = found.get("city")
        return GeoInfo(
            country=str(country.get("iso_code", "")) if isinstance(country, Mapping) else "",
            country_name=_name(country) if isinstance(country, Mapping) else "",
            region=_name(first_subdivision) if isinstance(first_subdivision, Mapping) else "",
            city=_name(city) if isinstance(city, Mapping) else "",
        )

    def close(self) -> None:
        self._reader.close()


class MaxMindAsn:
    """AS number and organisation from a MaxMind ASN database."""

    def __init__(self, path: Path | str) -> None:
        self._reader = maxminddb.open_database(str(path))

    def lookup(self, ip: str) -> GeoInfo:
        try:
            found = self._reader.get(ip)
        except ValueError:
            return GeoInfo()
        if not isinstance(found, Mapping):
            return GeoInfo()
        number = found.get("autonomous_system_number")
        return GeoInfo(
            asn=str(number) if number else "",
            org=str(found.get("autonomous_system_organization", "") or ""),
        )

    def close(self) -> None:
        self._reader.close()


class CompositeGeo:
    """Asks each source in order; a later source fills only what earlier ones left empty,
    so the most precise source goes first (MaxMind City, MaxMind ASN, then offline)."""

    def __init__(self, *sources: GeoLookup) -> None:
        self._sources = sources

    def lookup(self, ip: str) -> GeoInfo:
        if not _is_ip(ip):
            return GeoInfo()
        merged = GeoInfo()
        for source in self._sources:
            found = source.lookup(ip)
            if found.is_private:
                return GeoInfo(is_private=True)
            merged = replace(
                merged,
                **{
                    name: getattr(found, name)
                    for name in ("country", "country_name", "region", "city", "asn", "org")
                    if not getattr(merged, name) and getattr(found, name)
                },
            )
        return merged


def _is_ip(ip: str) -> bool:
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        return False
    return True


def build_geo(
    *,
    city_mmdb: Path | None = None,
    asn_mmdb: Path | None = None,
    offline_file: str = "geoip2fast-asn-ipv6.dat.gz",
) -> GeoLookup:
    """The geo lookup the settings describe (`EXOS_GEOIP_*`)."""
    sources: list[GeoLookup] = []
    if city_mmdb is not None:
        sources.append(MaxMindCity(city_mmdb))
    if asn_mmdb is not None:
        sources.append(MaxMindAsn(asn_mmdb))
    if offline_file and offline_file.lower() != "none":
        sources.append(OfflineGeo(offline_file))
    return CompositeGeo(*sources) if sources else NoGeo()
