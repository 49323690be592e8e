"""notifications: recipients and preferences, notification log and in-app inbox, reminder timers.

Consumes every journey event; produces notification-delivered and notification-failed
(DESIGN §1). `python -m services.notifications` serves it; `python -m deploy.local.sinks`
runs a local SMTP server and SMS/push provider that show what it sent.
"""
