"""When to try a failed delivery again (close to Standard Webhooks')."""

import random
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

# Seconds to wait after attempt 1, 2, ...: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
DEFAULT_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)
JITTER = 0.1  # +/- 10 %, so that retries of one event do not arrive together
MAX_RETRY_AFTER = 36000  # a receiver may ask to wait, up to 10 hours


def parse_schedule(text):
    """Seconds from a comma-separated list; the default when empty."""
    if not (text or "").strip():
        return DEFAULT_SCHEDULE
    schedule = tuple(int(part) for part in text.split(","))
    if not schedule or any(delay < 0 for delay in schedule):
        raise ValueError("a retry schedule is a list of non-negative seconds")
    return schedule


def parse_retry_after(value, now=None):
    """Seconds asked by a Retry-After header (seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = now or datetime.now(timezone.utc)
    return max(0, int((when - now).total_seconds()))


def next_delay(attempts, schedule=DEFAULT_SCHEDULE, retry_after=None, rng=random):
    """Seconds before the next attempt after `attempts` failed ones, or None
    when the schedule is exhausted (the delivery has failed for good)."""
    if attempts < 1 or attempts > len(schedule):
        return None
    delay = schedule[attempts - 1]
    delay = delay * (1 + rng.uniform(-JITTER, JITTER))
    if retry_after is not None:
        # Honoured within bounds: never sooner than planned, never for days.
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay
