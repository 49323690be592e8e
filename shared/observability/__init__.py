"""Structured logs with PHI redaction, and Prometheus metrics."""
