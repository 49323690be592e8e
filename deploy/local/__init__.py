"""Local infrastructure without Docker: the launcher package and `make run`."""
