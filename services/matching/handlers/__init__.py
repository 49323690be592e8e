"""One module per consumed event; each builds the handler `async def (event, envelope)` from `Matching`."""
