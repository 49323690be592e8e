"""The service's collections, each written through a `DocumentStore` and keyed for lone-`_id` reads.

| collection | `_id` | holds |
|---|---|---|
| recipients | recipient id | contact channels, time zone, locale, role, preferences |
| deliveries | `{event_id}:{recipient_id}:{channel}` | one message's state; its outbox publishes the outcome |
| deliveries | `log/{recipient_id}` | the delivery log: delivery ids, newest first (no scan); the inbox |
| delivery_logs | recipient id | legacy: the log before it moved into `deliveries`; still read |
| inboxes | recipient id | legacy (before issue 18): in-app entry ids, unread ones; still read (`inbox.py`) |
| inbox_entries | delivery id | legacy: an in-app message, from before its delivery kept it (`inbox.py`) |
| sessions | session id | what reminders need: times, join link, reminder timers, status |
| alerts | `risk:{event_id}`, `undelivered` | a risk alert's paging (who, in order); the metrics' watch list |
| check_ins | check-in id | open, completed or missed; its reminder's timer and, once fired, its event id |

Timers (`timers`, the runtime's): `deliver:{delivery_id}:{attempt}` and
`reminder:{session_id}:{24h|1h}`, `check-in-reminder:{check_in_id}`, `escalate:…`; their
kinds are declared in `services/notifications/timers.py`.

A recipient's delivery log is also their in-app inbox: which deliveries are in-app, unread,
held by quiet hours (`indexes.py`; listed by `inbox.py`). It is kept in `deliveries` so that
it is claimed and written with the deliveries it lists, no round trip of its own.
A delivered in-app delivery keeps the inbox's entry (title, body) itself (`inbox.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.ports import Documents

RECIPIENTS = "recipients"
DELIVERIES = "deliveries"
DELIVERY_LOGS = "delivery_logs"
INBOXES = "inboxes"
INBOX_ENTRIES = "inbox_entries"
SESSIONS = "sessions"
ALERTS = "alerts"
CHECK_INS = "check_ins"

COLLECTIONS = (RECIPIENTS, DELIVERIES, DELIVERY_LOGS, INBOXES, INBOX_ENTRIES, SESSIONS, ALERTS, CHECK_INS)


@dataclass(frozen=True, slots=True)
class NotificationStores:
    """One store per collection, each field named as its collection (`app.py` builds it so)."""

    recipients: Documents
    deliveries: Documents
    delivery_logs: Documents
    inboxes: Documents
    inbox_entries: Documents
    sessions: Documents
    alerts: Documents
    check_ins: Documents
