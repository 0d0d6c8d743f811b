# Run inside `odoo shell` by job_profile.py: cProfile of one delivery job's
# own work, a batch of 200 deliveries to 20 endpoints of a local receiver
# answering at once (keep-alive).
import cProfile
import io
import pstats
import time

# The addon tests' receiver, answering at once.
from receiver import Receiver  # noqa: E402 (on PYTHONPATH, with the addon)

DELIVERIES, ENDPOINTS = 200, 20
receiver = Receiver(events=False, keep_alive=True).__enter__()
params = env["ir.config_parameter"].sudo()  # noqa: F821 - given by odoo shell
params.set_param("coop_developer_settings.allowed_private_networks", "127.0.0.0/8")
params.set_param("coop_developer_settings.webhook_allow_http", "1")
groups = [
    env.ref("base.group_user").id,  # noqa: F821
    env.ref("coop_developer_settings.group_developer_settings").id,  # noqa: F821
]
users = env["res.users"].create(  # noqa: F821
    [
        {
            "name": f"Profiled {i}",
            "login": f"profiled-{i}",
            "groups_id": [(6, 0, groups)],
        }
        for i in range(ENDPOINTS // 10)  # 10 endpoints per user and event type
    ]
)
endpoints = env["coop.webhook.endpoint"].create(  # noqa: F821
    [
        {
            "user_id": users[i // 10].id,
            "event_type_id": env.ref(  # noqa: F821
                "coop_developer_settings.webhook_event_sale_cycle_opened"
            ).id,
            "url": f"{receiver.url}/{i}",
        }
        for i in range(ENDPOINTS)
    ]
)
test_type = env.ref("coop_developer_settings.webhook_event_test")  # noqa: F821
events = env["coop.webhook.event"].create(  # noqa: F821
    [
        {
            "event_type_id": test_type.id,
            "company_id": users[0].company_id.id,
            "endpoint_id": endpoints[i % ENDPOINTS].id,
        }
        for i in range(DELIVERIES)
    ]
)
deliveries = env["coop.webhook.delivery"].create(  # noqa: F821
    [
        {
            "event_id": event.id,
            "endpoint_id": event.endpoint_id.id,
            "user_id": event.endpoint_id.user_id.id,
            "company_id": event.company_id.id,
            "event_type": event.event_type,
        }
        for event in events
    ]
)
env.cr.commit()  # noqa: F821
profile = cProfile.Profile()
start = time.perf_counter()
profile.enable()
result = deliveries._deliver_job()
env.flush_all()  # noqa: F821
profile.disable()
elapsed = time.perf_counter() - start
print(f"one job, {DELIVERIES} deliveries to {ENDPOINTS} endpoints: {result}")
print(
    f"job body: {elapsed * 1000:.0f} ms, {elapsed * 1000 / DELIVERIES:.2f} ms per "
    f"delivery, {len(receiver.requests)} requests received"
)
out = io.StringIO()
pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(15)
print(out.getvalue())
receiver.__exit__(None, None, None)
