"""The JSON envelope of an event, as sent: its id and its exact bytes.

Built from the event alone (id, type, moment, data), so every delivery of
one event, to any endpoint, on any retry or replay, sends the same bytes.
"""

import json
import uuid

from .schemas import EVENT_ID_PREFIX


def new_event_id():
    """A public event id: the ``webhook-id`` of every delivery of the event."""
    return f"{EVENT_ID_PREFIX}{uuid.uuid4().hex}"


def timestamp(moment):
    """A naive UTC datetime as ISO 8601 with a Z (second precision)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _dumps(value, **options):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), **options)


def body(event_id, event_type, occurred_at, data):
    """The bytes of the event's envelope ``{id, type, timestamp, data}``.

    The keys of ``data`` are sorted at every level: the same data gives the
    same bytes wherever it was read from (PostgreSQL's jsonb keeps its own
    key order).
    """
    return (
        f'{{"id":{_dumps(event_id)},"type":{_dumps(event_type)},'
        f'"timestamp":{_dumps(timestamp(occurred_at))},'
        f'"data":{_dumps(data or {}, sort_keys=True)}}}'
    ).encode()
