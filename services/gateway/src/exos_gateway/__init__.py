"""EXOS gateway: the portal and /api/* routed to query-api, replay and insights, with auth."""
