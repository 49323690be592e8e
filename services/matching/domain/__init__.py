"""Matching's pure rules: no I/O, no clock (time is passed in), no framework."""
