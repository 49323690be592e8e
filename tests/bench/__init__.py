"""Benchmarks (`make bench`): measured on the real broker and database, never asserted in tests."""
