"""What a request or an event asks matching to do; each safe to run again for the same cause."""
