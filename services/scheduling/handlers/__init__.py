"""One module per consumed event; each handler is a plain coroutine `(event, envelope)`."""
