"""EXOS enrich: visitor, identity and frustration signals, per session, on the stream."""
