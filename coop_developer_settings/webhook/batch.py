"""Sending a batch of attempts at once, within bounds.

One delivery job sends its whole batch through a pool of threads: at most
``concurrency`` attempts at a time, at most ``per_endpoint`` of them to one
endpoint, the endpoints served in turn. Attempts start only while the
batch's time budget lasts; each one ends by its own deadline, so a batch
ends within the budget plus one total timeout, and an endpoint that hangs
holds its own slots only. What did not start is returned to the caller,
who sends it in another batch.
"""

import time
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from .client import internal_error


@dataclass
class Attempt:
    """What to send (key: the caller's, e.g. the delivery's id); started_at
    (time.time()) and outcome are filled in when it is sent."""

    key: object
    endpoint: object
    url: str
    body: bytes
    headers: dict = field(repr=False)
    started_at: float | None = None
    outcome: object = None


def send(attempts, sender, *, concurrency, per_endpoint, budget):
    """Send attempts with sender (a client.Sender); returns those that did
    not start before the budget (seconds) ran out, in their order."""
    queues = {}
    for attempt in attempts:
        queues.setdefault(attempt.endpoint, deque()).append(attempt)
    stop_starting = time.monotonic() + budget
    in_flight = Counter()

    def run(attempt):
        try:
            attempt.outcome = sender.post(attempt.url, attempt.body, attempt.headers)
        except Exception as exc:  # sender.post does not raise; never lose one
            attempt.outcome = internal_error(exc)
        return attempt

    with ThreadPoolExecutor(
        max_workers=max(1, concurrency), thread_name_prefix="coop-webhook"
    ) as pool:
        running = set()

        def start_more():
            # The endpoints in turn, one attempt each per pass, the one just
            # served going last: none waits behind another.
            progress = True
            while progress and queues:
                progress = False
                for endpoint in list(queues):
                    if len(running) >= concurrency or time.monotonic() >= stop_starting:
                        return
                    if in_flight[endpoint] >= per_endpoint:
                        continue
                    queue = queues.pop(endpoint)
                    attempt = queue.popleft()
                    if queue:
                        queues[endpoint] = queue
                    # Stamped here, when a thread is free to send it at once.
                    attempt.started_at = time.time()
                    running.add(pool.submit(run, attempt))
                    in_flight[endpoint] += 1
                    progress = True

        start_more()
        while running:
            done, _pending = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                running.discard(future)
                in_flight[future.result().endpoint] -= 1
            start_more()
    return [attempt for queue in queues.values() for attempt in queue]
