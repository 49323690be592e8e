"""MongoDB plumbing on the common subset (DESIGN §5): client, outbox, inbox, durable timers."""
