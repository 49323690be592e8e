"""Pure clinical rules of the intake service: no I/O, no clock (time is passed in)."""
