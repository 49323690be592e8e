"""Kafka plumbing: broker factory, topic creation, reliable consumption, dead letters."""
