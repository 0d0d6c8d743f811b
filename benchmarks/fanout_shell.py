# Run inside `odoo shell` by fanout.py (env is Odoo's): times what opening a
# sale cycle adds to its transaction with N subscribed endpoints, against a
# bare with_delay() loop and Odoo's native webhook server actions.
import json
import os
import time
from datetime import datetime, timedelta

SIZES = [int(n) for n in os.environ["BENCH_SIZES"].split(",")]
NATIVE_SIZES = [int(n) for n in os.environ["BENCH_NATIVE_SIZES"].split(",")]
LATENCY = float(os.environ.get("BENCH_RECEIVER_LATENCY", "0.05"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))


# The addon tests' receiver, answering after LATENCY (an internet-like one).
from receiver import Receiver  # noqa: E402 (on PYTHONPATH, with the addon)

receiver = Receiver((200, {}, LATENCY)).__enter__()
URL = receiver.url
params = env["ir.config_parameter"].sudo()  # noqa: F821 - given by odoo shell
params.set_param("coop_developer_settings.allowed_private_networks", "127.0.0.0/8")
params.set_param("coop_developer_settings.webhook_allow_http", "1")
env.cr.commit()  # noqa: F821

group = env.ref("coop_developer_settings.group_developer_settings")  # noqa: F821
opened = env.ref("coop_developer_settings.webhook_event_sale_cycle_opened")  # noqa: F821
Cycle = env["coop.sale.cycle"]  # noqa: F821


def make_cycle():
    now = datetime.utcnow()
    cycle = Cycle.create(
        {"name": "Bench", "date_open": now, "date_close": now + timedelta(days=1)}
    )
    cycle.action_schedule()
    env.cr.commit()  # noqa: F821
    return cycle


def timed_open():
    """Seconds of action_open's transaction, commit included."""
    cycle = make_cycle()
    start = time.perf_counter()
    cycle.action_open()
    env.cr.commit()  # noqa: F821
    return time.perf_counter() - start


def clean_outbox():
    env["coop.webhook.delivery"].search([]).unlink()  # noqa: F821
    env["queue.job"].search([]).unlink()  # noqa: F821
    env.cr.commit()  # noqa: F821


def best(samples):
    return min(samples)  # the least disturbed run


def subscribe(count):
    """count endpoints, 10 per user (the per-user cap)."""
    env["coop.webhook.endpoint"].search([]).unlink()  # noqa: F821
    users = env["res.users"].search([("login", "like", "bench-dev-%")])  # noqa: F821
    needed = (count + 9) // 10
    if len(users) < needed:
        users |= env["res.users"].create(  # noqa: F821
            [
                {
                    "name": f"Bench dev {i}",
                    "login": f"bench-dev-{i}",
                    "groups_id": [(6, 0, [env.ref("base.group_user").id, group.id])],  # noqa: F821
                }
                for i in range(len(users), needed)
            ]
        )
    env["coop.webhook.endpoint"].create(  # noqa: F821
        [
            {
                "user_id": users[i // 10].id,
                "event_type_id": opened.id,
                "url": f"{URL}/{i}",
            }
            for i in range(count)
        ]
    )
    env.cr.commit()  # noqa: F821


rows = []
subscribe(0)
base = best([timed_open() for _ in range(REPEAT)])
clean_outbox()
for size in SIZES:
    subscribe(size)
    ours = best([timed_open() for _ in range(REPEAT)]) - base
    clean_outbox()
    samples = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        for _index in range(size):
            env["queue.job"].with_delay(channel="root.webhook")._test_job()  # noqa: F821
        env.cr.commit()  # noqa: F821
        samples.append(time.perf_counter() - start)
    bare = best(samples)
    clean_outbox()
    rows.append({"n": size, "ours": ours, "bare": bare})
subscribe(0)

# Odoo's native Send Webhook Notification: one server action per endpoint,
# run by an automation rule when the state becomes "open".
model = env["ir.model"]._get("coop.sale.cycle")  # noqa: F821
state_field = env["ir.model.fields"]._get("coop.sale.cycle", "state")  # noqa: F821
open_value = state_field.selection_ids.filtered(lambda s: s.value == "open")
native = {}
for size in NATIVE_SIZES:
    rule = env["base.automation"].create(  # noqa: F821
        {
            "name": "Native webhooks",
            "model_id": model.id,
            "trigger": "on_state_set",
            "trigger_field_ids": [(6, 0, state_field.ids)],
            "trg_selection_field_id": open_value.id,
        }
    )
    env["ir.actions.server"].create(  # noqa: F821
        [
            {
                "name": f"Native webhook {i}",
                "model_id": model.id,
                "state": "webhook",
                "webhook_url": URL,
                "usage": "base_automation",
                "base_automation_id": rule.id,
            }
            for i in range(size)
        ]
    )
    env.cr.commit()  # noqa: F821
    native[size] = timed_open() - base
    rule.action_server_ids.unlink()
    rule.unlink()
    env.cr.commit()  # noqa: F821

for row in rows:
    row["native"] = native.get(row["n"])
print("BENCH_RESULT " + json.dumps({"base": base, "rows": rows, "latency": LATENCY}))
receiver.__exit__(None, None, None)
