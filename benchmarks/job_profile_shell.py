# Run inside `odoo shell` by job_profile.py: cProfile of the delivery job's
# own work (100 deliveries to a local receiver answering at once).
import cProfile
import io
import os
import pstats
import sys
import time

# The addon tests' receiver, answering at once.
sys.path.insert(0, os.environ["BENCH_RECEIVER_DIR"])
from receiver import Receiver  # noqa: E402

receiver = Receiver().__enter__()
params = env["ir.config_parameter"].sudo()  # noqa: F821 - given by odoo shell
params.set_param("coop_developer_settings.allowed_private_networks", "127.0.0.0/8")
params.set_param("coop_developer_settings.webhook_allow_http", "1")
groups = [
    env.ref("base.group_user").id,  # noqa: F821
    env.ref("coop_developer_settings.group_developer_settings").id,  # noqa: F821
]
user = env["res.users"].create(  # noqa: F821
    {"name": "Profiled", "login": "profiled", "groups_id": [(6, 0, groups)]}
)
endpoint = env["coop.webhook.endpoint"].create(  # noqa: F821
    {
        "user_id": user.id,
        "event_type_id": env.ref(  # noqa: F821
            "coop_developer_settings.webhook_event_sale_cycle_opened"
        ).id,
        "url": receiver.url,
    }
)
events = env["coop.webhook.event"].create(  # noqa: F821
    [
        {
            "event_type_id": env.ref("coop_developer_settings.webhook_event_test").id,  # noqa: F821
            "company_id": user.company_id.id,
            "endpoint_id": endpoint.id,
        }
        for _ in range(100)
    ]
)
deliveries = env["coop.webhook.delivery"].create(  # noqa: F821
    [
        {
            "event_id": event.id,
            "endpoint_id": endpoint.id,
            "user_id": user.id,
            "company_id": user.company_id.id,
            "event_type": event.event_type,
        }
        for event in events
    ]
)
env.cr.commit()  # noqa: F821
profile = cProfile.Profile()
start = time.perf_counter()
profile.enable()
for delivery in deliveries:
    delivery._deliver_job()
    env.flush_all()  # noqa: F821
profile.disable()
print(f"job body: {(time.perf_counter() - start) * 10:.2f} ms per delivery")
out = io.StringIO()
pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(12)
print(out.getvalue())
receiver.__exit__(None, None, None)
