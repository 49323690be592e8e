"""One handler per consumed event, named after it: `on_session_booked` handles `session-booked`."""
