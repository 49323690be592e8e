"""Thin HTTP routers: recipients (contact details, preferences) and their notifications."""
