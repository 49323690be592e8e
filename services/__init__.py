"""The four Carepath services; each is one deployable process (`python -m services.<name>`)."""
