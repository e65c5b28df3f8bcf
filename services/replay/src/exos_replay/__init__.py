"""EXOS replay: session list, rrweb events, drill-down tabs, heatbar and the player page."""
