"""One handler per consumed event, named after it (`on_session_booked` handles `session-booked`),
and one per timer kind (`on_delivery_timer` fires `timers.DELIVERY`): each turns what came
into a command and asks for it."""
