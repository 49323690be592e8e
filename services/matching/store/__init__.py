"""Matching's collections, each keyed so its hot path reads and writes by a lone `_id`."""
