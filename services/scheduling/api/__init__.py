"""Thin FastAPI routers, one per resource: they check who asks, then call a command."""
