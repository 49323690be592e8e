"""Scheduling's pure rules: availability, slots, series, claims, cancellation, the care record.

Nothing here reads the clock, a database or the network: time comes in as arguments, so
every rule is tested at any instant (DST transitions included) without infrastructure.
"""
