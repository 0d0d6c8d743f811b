# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import os
import shutil
import sys
import tempfile
import threading
import traceback
from contextlib import contextmanager
from datetime import datetime, timedelta
from unittest.mock import patch
from xmlrpc.client import Fault

from openapi_core import OpenAPI
from openapi_core.contrib.requests import (
    RequestsOpenAPIRequest,
    RequestsOpenAPIResponse,
)

from odoo import SUPERUSER_ID, Command, api, fields, sql_db
from odoo.tests import TransactionCase, new_test_user
from odoo.tools import config, mute_logger

from odoo.addons.base.controllers.rpc import RPC_FAULT_CODE_ACCESS_ERROR
from odoo.addons.queue_job.job import Job

from ..crypto import keyring
from ..models.coop_secret_vault import load_keyring
from ..models.res_users import GROUP_XMLID
from .fakes.brevo import FakeBrevo
from .fakes.mailchimp import FakeMailchimp
from .receiver import Receiver

# A fixed "now" for the tests that travel in time.
T0 = datetime(2026, 3, 2, 8, 0, 0)
# The tests' receivers listen on loopback over plain http, which the webhook
# URL check refuses by default.
LOCAL_RECEIVER_PARAMS = {
    "coop_developer_settings.allowed_private_networks": "127.0.0.0/8",
    "coop_developer_settings.webhook_allow_http": "1",
}
# The JSON API's collections.
BUYERS = "/coop/api/v1/buyers"
WEBHOOKS = "/coop/api/v1/webhooks"
# The job method of the newsletter connections' syncs.
SYNC_JOB = "_sync_job"


class SaleCycleCase(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # A shop of its own: the demo data's open cycle stays out of the way.
        cls.company = cls.env["res.company"].create({"name": "Test coop shop"})
        cls.Cycle = cls.env["coop.sale.cycle"]

    @classmethod
    def create_cycle(cls, opens_in_hours=24, lasts_hours=48, state=None, **vals):
        """A cycle of the test company, dated relative to T0."""
        date_open = T0 + timedelta(hours=opens_in_hours)
        cycle = cls.Cycle.create(
            {
                "name": vals.pop("name", "Test cycle"),
                "company_id": vals.pop("company_id", cls.company.id),
                "date_open": date_open,
                "date_close": date_open + timedelta(hours=lasts_hours),
                **vals,
            }
        )
        if state:
            # The states are reached through the real transitions.
            path = {
                "draft": [],
                "scheduled": ["action_schedule"],
                "open": ["action_open"],
                "closed": ["action_open", "action_close"],
                "cancelled": ["action_cancel"],
            }[state]
            for method in path:
                getattr(cycle, method)()
        return cycle

    def events(self, cycle, event_type):
        """The messages that recorded an event of the cycle, oldest first."""
        subtype = self.env.ref(
            {
                "sale_cycle.opened": "coop_developer_settings.mt_sale_cycle_opened",
                "sale_cycle.closed": "coop_developer_settings.mt_sale_cycle_closed",
            }[event_type]
        )
        return self.env["mail.message"].search(
            [
                ("model", "=", "coop.sale.cycle"),
                ("res_id", "=", cycle.id),
                ("subtype_id", "=", subtype.id),
            ],
            order="id",
        )


def pending_jobs(env, method="_deliver_job", created_before=None, due=False):
    domain = [("method_name", "=", method), ("state", "=", "pending")]
    if created_before:
        domain.append(("date_created", "<=", created_before))
    if due:
        domain += ["|", ("eta", "=", False), ("eta", "<=", fields.Datetime.now())]
    return env["queue.job"].search(domain, order="id")


def perform_jobs(env, rounds=10, method="_deliver_job", created_before=None, due=False):
    """Perform the pending jobs of that method (by default: the
    deliveries) the way the job runner would, whatever their eta (the tests
    do not wait for the retry delays); only those queued by created_before
    if given; only those whose eta has come if due (a clock frozen by the
    test moves the jobs' time)."""
    performed = 0
    for _round in range(rounds):
        jobs = pending_jobs(env, method, created_before, due)
        if not jobs:
            break
        for record in jobs:
            job = Job.load(env, record.uuid)
            job.set_started()
            job.store()
            job.perform()
            job.set_done()
            job.store()
            performed += 1
    return performed


class DeliveryJobsMixin:
    """Run the delivery jobs as queue_job's runner would."""

    def pending_jobs(self):
        return pending_jobs(self.env)

    def run_jobs(self, rounds=10):
        return perform_jobs(self.env, rounds)

    # Set once the test logged in, while jobs_running waits for it.
    _coop_logged_in = None

    def authenticate(self, *args, **kwargs):
        session = super().authenticate(*args, **kwargs)
        if self._coop_logged_in is not None:
            self._coop_logged_in.set()
        return session

    @contextmanager
    def jobs_running(self, interval=0.2, method="_deliver_job", min_age=0):
        """Browser tests: the job runner in a thread, performing the jobs
        (of that method) the browser's requests queue while the tour goes
        on. It starts once the test logged in: the login uses the shared
        test cursor outside its lock (a job run meanwhile broke it: "no
        results to fetch"). min_age: seconds a job waits in the queue first
        (the page has read what came before)."""
        stop = threading.Event()
        errors = []
        self._coop_logged_in = threading.Event()

        def runner():
            while not self._coop_logged_in.wait(interval):
                if stop.is_set():
                    return
            while not stop.wait(interval):
                try:
                    with self.registry.cursor() as cr:
                        perform_jobs(
                            api.Environment(cr, SUPERUSER_ID, {}),
                            method=method,
                            created_before=min_age
                            and datetime.now() - timedelta(seconds=min_age),
                        )
                except Exception:  # reported by the test, not lost in the thread
                    errors.append(traceback.format_exc())
                    return

        thread = threading.Thread(target=runner, name="coop-test-job-runner")
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
        self.assertFalse(errors, "the job runner thread failed")


def allow_local_receivers(env):
    params = env["ir.config_parameter"].sudo()
    for key, value in LOCAL_RECEIVER_PARAMS.items():
        params.set_param(key, value)


def new_developer(env, login, company):
    """A user with Developer settings access, of that company only."""
    return new_test_user(
        env,
        login=login,
        groups=f"base.group_user,{GROUP_XMLID}",
        company_id=company.id,
        company_ids=[Command.set(company.ids)],
    )


class WebhookCase(DeliveryJobsMixin, SaleCycleCase):
    """A developer of the test shop, receivers on 127.0.0.1, real jobs."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        allow_local_receivers(cls.env)
        cls.env["ir.config_parameter"].sudo().set_param(
            "coop_developer_settings.webhook_total_timeout", "2"
        )
        cls.developer = new_developer(cls.env, "coop-webhook-dev", cls.company)
        cls.opened_type = cls.env.ref(
            "coop_developer_settings.webhook_event_sale_cycle_opened"
        )
        cls.closed_type = cls.env.ref(
            "coop_developer_settings.webhook_event_sale_cycle_closed"
        )
        cls.opening_soon_type = cls.env.ref(
            "coop_developer_settings.webhook_event_sale_cycle_opening_soon"
        )
        cls.closing_soon_type = cls.env.ref(
            "coop_developer_settings.webhook_event_sale_cycle_closing_soon"
        )

    def endpoint(self, url, event_type=None, user=None, **vals):
        return (
            self.env["coop.webhook.endpoint"]
            .with_user(user or self.developer)
            .create(
                {
                    "event_type_id": (event_type or self.opened_type).id,
                    "url": url,
                    **vals,
                }
            )
        )

    def deliveries(self, endpoint):
        return self.env["coop.webhook.delivery"].search(
            [("endpoint_id", "=", endpoint.id)], order="id"
        )

    def cycle_events(self, cycle, event_type):
        """The webhook events recorded about a cycle, oldest first."""
        return self.env["coop.webhook.event"].search(
            [
                ("res_model", "=", "coop.sale.cycle"),
                ("res_id", "=", cycle.id),
                ("event_type", "=", event_type),
            ],
            order="id",
        )


def create_shops_with_cycles(env, *shop_and_cycle_names):
    """A company per (shop, cycle) name pair, each with its draft cycle of a
    week from 2026-05-01; returns the companies and the cycles."""
    companies = env["res.company"].create(
        [{"name": shop} for shop, _cycle in shop_and_cycle_names]
    )
    start = datetime(2026, 5, 1, 8)
    cycles = env["coop.sale.cycle"].create(
        [
            {
                "name": cycle,
                "company_id": company.id,
                "date_open": start,
                "date_close": start + timedelta(days=7),
            }
            for company, (_shop, cycle) in zip(
                companies, shop_and_cycle_names, strict=True
            )
        ]
    )
    return companies, cycles


class XmlrpcAssertionsMixin:
    """For HttpCase tests that call the server over XML-RPC."""

    def xmlrpc_as(self, login, model, method, *args, **kwargs):
        """model.method(*args, **kwargs) over XML-RPC as the user whose
        password is their login (as new_test_user makes them)."""
        db = self.env.cr.dbname
        uid = self.xmlrpc_common.authenticate(db, login, login, {})
        self.assertTrue(uid, f"{login} could not log in")
        return self.xmlrpc_object.execute_kw(
            db, uid, login, model, method, list(args), kwargs
        )

    @contextmanager
    def assertAccessDenied(self):
        """The server answered with an AccessError (not any other fault)."""
        with self.assertRaises(Fault) as caught, mute_logger("odoo.http"):
            yield
        self.assertEqual(
            caught.exception.faultCode,
            RPC_FAULT_CODE_ACCESS_ERROR,
            caught.exception.faultString,
        )


class RealTransactionsMixin:
    """Workers that run at once, each in a real transaction of its own
    (what they work on is committed first, and removed at the end)."""

    def setUp(self):
        super().setUp()
        self.db = sql_db.db_connect(self.env.cr.dbname)

    def env_of(self, cr):
        """A superuser environment on a real cursor of its own.

        The registry is handed over: looking it up by name would wait for a
        lock that the test runner holds.
        """
        cr.transaction = api.Transaction(self.registry)
        return api.Environment(cr, SUPERUSER_ID, {})

    def committed(self, query):
        """query(env) on a fresh cursor: what the workers committed."""
        with self.db.cursor() as cr:
            return query(self.env_of(cr))

    def race(self, model, res_id, *workers, refused=()):
        """Run the workers at once on one record, each in its transaction.

        Returns, per worker, "done" or the name of the refused exception.
        """
        barrier = threading.Barrier(len(workers))
        outcomes = []

        def run(worker):
            with self.db.cursor() as cr:
                record = self.env_of(cr)[model].browse(res_id)
                record.read(["state"])  # both snapshots see the same state
                barrier.wait()
                try:
                    worker(record)
                    cr.commit()  # pylint: disable=invalid-commit
                    outcomes.append("done")
                except refused as exc:
                    cr.rollback()
                    outcomes.append(type(exc).__name__)

        threads = [threading.Thread(target=run, args=(worker,)) for worker in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        stuck = [thread for thread in threads if thread.is_alive()]
        if stuck:
            frames = sys._current_frames()
            self.fail(
                "workers stuck:\n"
                + "\n".join(
                    "".join(traceback.format_stack(frames[t.ident])) for t in stuck
                )
            )
        return outcomes


class ApiClientMixin:
    """For HttpCase tests of /coop/api/v1: every answer is checked against
    the OpenAPI document the server serves (openapi-core)."""

    _openapi = None

    def api(self, method, path, key=None, body=None, headers=None, raw=None):
        """Call the API with the key (as a Bearer token); returns the
        requests response, once validated against the document."""
        headers = dict(headers or {})
        if key:
            headers["Authorization"] = f"Bearer {key}"
        response = self.opener.request(
            method,
            self.base_url() + path,
            json=body,
            data=raw,
            headers=headers,
            timeout=30,
        )
        self.assert_conforms(response)
        return response

    def assert_conforms(self, response):
        if ApiClientMixin._openapi is None:
            document = self.opener.get(self.base_url() + "/coop/api/v1/openapi.json")
            ApiClientMixin._openapi = OpenAPI.from_dict(document.json())
        ApiClientMixin._openapi.validate_response(
            RequestsOpenAPIRequest(response.request),
            RequestsOpenAPIResponse(response),
        )

    def assertApiError(self, response, status, code):
        self.assertEqual(response.status_code, status, response.text)
        self.assertEqual(response.json()["error"], code, response.text)
        return response.json()["message"]


class CommittedCase(RealTransactionsMixin, TransactionCase):
    """Records committed for workers in real transactions: the settings of
    ``params`` set for the test's time, and at the end what the test
    committed (``remove_records``) removed with the jobs queued meanwhile
    (later tests run whatever job is pending)."""

    params = LOCAL_RECEIVER_PARAMS

    def setUp(self):
        super().setUp()
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            self.last_job_id = (
                env["queue.job"].search([], order="id desc", limit=1).id or 0
            )
            settings = env["ir.config_parameter"]
            saved = {key: settings.get_param(key) for key in self.params}
            for key, value in self.params.items():
                settings.set_param(key, value)
        self.addCleanup(self._remove_committed, saved)

    def remove_records(self, env):
        """Remove what the test committed (the jobs are removed after)."""

    def _remove_committed(self, saved):
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            self.remove_records(env)
            env["queue.job"].search([("id", ">", self.last_job_id)]).unlink()
            settings = env["ir.config_parameter"]
            for key, value in saved.items():
                settings.set_param(key, value or False)


class CommittedEndpointCase(CommittedCase):
    """An administrator's endpoint of "opened", committed, sending to a
    receiver on 127.0.0.1 (``new_receiver``); ``create_deliveries`` commits
    its deliveries with it."""

    def new_receiver(self):
        return Receiver((200, {}, 1.0))

    def create_deliveries(self, env, endpoint):
        raise NotImplementedError

    def setUp(self):
        super().setUp()
        self.receiver = self.enterContext(self.new_receiver())
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            self.owner_id = env.ref("base.user_admin").id
            endpoint = env["coop.webhook.endpoint"].create(
                {
                    "user_id": self.owner_id,
                    "event_type_id": env.ref(
                        "coop_developer_settings.webhook_event_sale_cycle_opened"
                    ).id,
                    "url": self.receiver.url,
                }
            )
            self.endpoint_id = endpoint.id
            self.create_deliveries(env, endpoint)

    def remove_records(self, env):
        # The endpoint may be gone (the test deleted it), or archived.
        env["coop.webhook.endpoint"].with_context(active_test=False).browse(
            self.endpoint_id
        ).exists().unlink()


class CommittedWebhookCase(CommittedCase):
    """An endpoint and a sale cycle committed for real workers
    (``create_records``), removed at the end with everything they caused
    (events, deliveries, jobs)."""

    def setUp(self):
        super().setUp()
        self.cycle_id = self.endpoint_id = None

    def create_records(self, event_xmlid, url, state, opens_in, closes_in):
        """The cycle (brought to state), then the endpoint, committed."""
        now = fields.Datetime.now()
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            cycle = env["coop.sale.cycle"].create(
                {
                    "name": "Raced",
                    "date_open": now + opens_in,
                    "date_close": now + closes_in,
                }
            )
            cycle.action_schedule()
            if state == "open":
                cycle.action_open()
            endpoint = env["coop.webhook.endpoint"].create(
                {
                    "user_id": env.ref("base.user_admin").id,
                    "event_type_id": env.ref(event_xmlid).id,
                    "url": url,
                }
            )
            self.cycle_id, self.endpoint_id = cycle.id, endpoint.id

    def remove_records(self, env):
        cycle = env["coop.sale.cycle"].browse(self.cycle_id).exists()
        env["coop.webhook.event"].search(
            [("res_model", "=", cycle._name), ("res_id", "=", self.cycle_id)]
        ).unlink()
        env["coop.webhook.endpoint"].browse(self.endpoint_id).exists().unlink()
        env["mail.message"].search(
            [("model", "=", cycle._name), ("res_id", "=", self.cycle_id)]
        ).unlink()
        cycle.unlink()


class KeyConfigMixin:
    """Each test chooses where the key is: a data directory of its own, and
    the configuration option or environment variable it sets."""

    def setUp(self):
        super().setUp()
        # The server's own keys: the database may hold secrets sealed with
        # them (the key rotation goes over every row).
        try:
            self.server_keys = load_keyring().dumps()
        except keyring.KeyringError:
            self.server_keys = ""
        self.data_dir = tempfile.mkdtemp(prefix="coop-data-")
        self.addCleanup(shutil.rmtree, self.data_dir)
        self.key_file = os.path.join(
            self.data_dir, "coop_developer_settings", "secret.keys"
        )
        self.use_keys(data_dir=self.data_dir)

    def use_keys(self, **options):
        """Server options from now on (coop_secret_key, coop_secret_key_file,
        data_dir); the others, and the environment variable, unset."""
        for patcher in (
            patch.dict(
                config.options,
                {"coop_secret_key": None, "coop_secret_key_file": None, **options},
            ),
            patch.dict(os.environ),
        ):
            patcher.start()
            self.addCleanup(patcher.stop)
        os.environ.pop("COOP_SECRET_KEY", None)


class NewsletterFakesMixin:
    """The Brevo and Mailchimp fakes on 127.0.0.1, each with a list
    "Buyers", for the test's time; the class gives ``shop`` and
    ``developer``. ``server_options``: more server options to set."""

    server_options = {}

    def setUp(self):
        super().setUp()
        self.brevo = self.enterContext(FakeBrevo(import_delay=0))
        self.mailchimp = self.enterContext(FakeMailchimp())
        self.brevo_list = self.brevo.add_list("Buyers")
        self.mailchimp_list = self.mailchimp.add_list("Buyers")
        # The fakes' addresses come from the server configuration only.
        self.startPatcher(
            patch.dict(
                config.options,
                {
                    "coop_newsletter_brevo_url": self.brevo.url,
                    "coop_newsletter_mailchimp_url": self.mailchimp.url,
                    **self.server_options,
                },
            )
        )

    def connect(self, provider="brevo", user=None, key=None):
        fake = self.brevo if provider == "brevo" else self.mailchimp
        connections = self.env["coop.newsletter.connection"].with_user(
            user or self.developer
        )
        return connections.browse(
            connections.coop_connect(provider, key or fake.key, self.shop.id)["id"]
        )

    def sync(self, connection):
        """Sync now, running the sync's jobs to the end."""
        connection.action_sync_now()
        perform_jobs(self.env, method=SYNC_JOB)
        self.assertFalse(pending_jobs(self.env, SYNC_JOB))
        connection.invalidate_recordset()
