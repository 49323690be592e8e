"""Thin FastAPI routers, one per resource: access check, command or read, audited answer."""
