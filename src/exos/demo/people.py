"""The fixed vocabulary of the demo world: names, lenders, appraisal firms, browsers and
where the operators sit. Everything here is made up; the e-mail domain is a reserved
`.example` one and the client addresses are ordinary ISP ranges, so the offline geo data
resolves them to a country and an AS organisation (and a MaxMind City database, when
configured, to a city)."""

from __future__ import annotations

from dataclasses import dataclass

PORTAL_ORIGIN = "https://portal.appraisal-ops.example"
SERVICE_NAME = "appraisal-portal"
EMAIL_DOMAIN = "appraisal-ops.example"

FIRST_NAMES = (
    "Avery",
    "Jordan",
    "Maya",
    "Diego",
    "Priya",
    "Marcus",
    "Elena",
    "Tomas",
    "Grace",
    "Hannah",
    "Omar",
    "Keisha",
    "Lucas",
    "Nora",
    "Samir",
    "Tessa",
    "Victor",
    "Wendy",
    "Caleb",
    "Imani",
    "Rosa",
    "Andre",
    "Julia",
    "Kenji",
    "Leah",
    "Mateo",
    "Naomi",
    "Owen",
    "Paula",
    "Quinn",
    "Rafael",
    "Sofia",
    "Trevor",
    "Uma",
    "Wesley",
    "Yara",
)
LAST_NAMES = (
    "Brooks",
    "Castillo",
    "Dawson",
    "Ellis",
    "Fischer",
    "Garcia",
    "Hughes",
    "Iverson",
    "Jensen",
    "Kowalski",
    "Lindqvist",
    "Moreno",
    "Nakamura",
    "Okafor",
    "Patel",
    "Quintero",
    "Ramirez",
    "Sullivan",
    "Turner",
    "Underwood",
    "Vasquez",
    "Whitaker",
    "Xu",
    "Young",
    "Zimmerman",
    "Abbott",
    "Bennett",
    "Carver",
    "Delgado",
    "Foster",
)

LENDERS = (
    "Lakeshore Mortgage",
    "Prairie Home Lending",
    "Harbor Federal Credit Union",
    "Summit Bancorp",
    "Riverbend Savings",
    "Keystone Home Loans",
    "Pioneer Trust",
    "Great Plains Bank",
)

APPRAISAL_FIRMS = (
    "Midwest Valuation Group",
    "Benchmark Appraisals",
    "TrueNorth Property Valuation",
    "Cornerstone Appraisal Co",
    "Lakeview Appraisers",
    "Heartland Valuation Partners",
    "Precision Home Appraisals",
    "Northside Appraisal Services",
    "Evergreen Valuations",
    "Capitol Appraisal Group",
    "Blue Ridge Appraisers",
    "Sterling Valuation",
)

PROPERTY_STATES = ("IL", "IL", "IL", "WI", "IN", "MI", "MN", "OH", "MO", "IA")

# Line of business -> share of orders. Refinance surges on the spike day (see scenario).
LINES_OF_BUSINESS = (
    ("purchase", 0.30),
    ("refinance", 0.26),
    ("closing", 0.20),
    ("heloc", 0.14),
    ("construction", 0.06),
    ("reo", 0.04),
)


@dataclass(frozen=True, slots=True)
class Seat:
    """Where and with what an operator works: the headers the loader sends for them."""

    timezone: str
    ip_prefix: str  # first three octets; the last one is per operator
    language: str  # browser.language and Accept-Language
    user_agent: str


_CHROME_WIN = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
_CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
_EDGE_WIN = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86"
)
_FIREFOX_WIN = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
_SAFARI_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Safari/605.1.15"
)

# Most of the team sits in the Chicago office area (Comcast's 73.160.0.0/14, so masked
# visitor IPs read 73.162.x.x and the like), the rest work remotely.
SEATS = (
    Seat("America/Chicago", "73.162.41", "en-US", _CHROME_WIN),
    Seat("America/Chicago", "73.161.118", "en-US", _CHROME_MAC),
    Seat("America/Chicago", "73.162.7", "en-US", _EDGE_WIN),
    Seat("America/Chicago", "73.160.92", "es-US", _CHROME_WIN),
    Seat("America/Chicago", "73.163.15", "en-US", _FIREFOX_WIN),
    Seat("America/New_York", "71.190.24", "en-US", _CHROME_WIN),
    Seat("America/Denver", "67.165.88", "en-US", _SAFARI_MAC),
    Seat("America/Chicago", "99.39.142", "en-US", _EDGE_WIN),
    Seat("America/Los_Angeles", "76.91.203", "en-US", _CHROME_MAC),
    Seat("America/Chicago", "73.162.200", "en-GB", _CHROME_WIN),
)

EMAIL_TEMPLATES_SENT = (
    "engagement_letter",
    "scheduling_confirmation",
    "status_update",
    "revision_request",
    "report_delivery",
    "invoice",
)
