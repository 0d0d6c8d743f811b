"""When to try a failed delivery again (close to Standard Webhooks')."""

import random
import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

# Seconds to wait after attempt 1, 2, ...: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
DEFAULT_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)
JITTER = 0.1  # +/- 10 %, so that retries of one event do not arrive together
MAX_RETRY_AFTER = 36000  # a receiver may ask to wait, up to 10 hours
MAX_SCHEDULED_DELAY = 7 * 86400  # one step of a configured schedule
MAX_SCHEDULE_STEPS = 50
# Delay-seconds is ASCII digits only (RFC 9110): "²".isdigit() is true too.
DELAY_SECONDS = re.compile(r"[0-9]+", re.ASCII)


def parse_schedule(text):
    """Seconds from a comma-separated list; the default when empty."""
    if not (text or "").strip():
        return DEFAULT_SCHEDULE
    schedule = tuple(int(part) for part in text.split(","))
    if len(schedule) > MAX_SCHEDULE_STEPS or any(
        not 0 <= delay <= MAX_SCHEDULED_DELAY for delay in schedule
    ):
        raise ValueError(
            f"a retry schedule is at most {MAX_SCHEDULE_STEPS} waits of 0 to "
            f"{MAX_SCHEDULED_DELAY} seconds"
        )
    return schedule


def parse_retry_after(value, now=None):
    """Seconds asked by a Retry-After header (seconds or HTTP date), or None
    for anything else; never raises, whatever the receiver sent."""
    value = (value or "").strip()
    if not value:
        return None
    if DELAY_SECONDS.fullmatch(value):
        # 5000 digits would not even convert (int's digit limit).
        return MAX_RETRY_AFTER if len(value) > 9 else min(int(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)  # "-0000": UTC, source unknown
    now = now or datetime.now(timezone.utc)
    try:
        return max(0, min(int((when - now).total_seconds()), MAX_RETRY_AFTER))
    except OverflowError:
        return None


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
