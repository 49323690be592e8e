"""What a request or an event asks of the intake service, on the `Documents` ports."""
