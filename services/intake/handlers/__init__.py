"""One module per consumed event: `on_<event>` builds the handler from the ports it needs."""
