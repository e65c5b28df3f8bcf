"""HTTP routers, one module per resource; each is built by a factory taking the store provider."""
