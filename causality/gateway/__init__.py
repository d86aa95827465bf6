"""The HTTP edge: Starlette routes, middleware and error mapping (pure ASGI, no Ray imports)."""
