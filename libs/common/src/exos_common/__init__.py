"""Code shared by every EXOS service: settings, messages, topics, bus and store ports, schema."""
