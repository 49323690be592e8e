"""What a request, an event or a timer asks matching to do: one command a module, its input a
small frozen dataclass, run as `await <command>(command, ctx)`; each safe to run again for
the same cause, each refusing with `shared.refusals`."""
