"""What a request, an event or a timer asks scheduling to do: one module per command."""
