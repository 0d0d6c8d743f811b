# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import json
from datetime import datetime, timedelta
from xmlrpc.client import Fault

from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from .common import GROUP_XMLID, create_shops_with_cycles

JSON2_PARAM = "coop_developer_settings.json2_api"


@tagged("post_install", "-at_install")
class TestJson2Api(HttpCase):
    """Odoo 19's POST /json/2/<model>/<method> with a bearer API key."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        (cls.company_a, cls.company_b), (cls.cycle_a, cls.cycle_b) = (
            create_shops_with_cycles(
                cls.env,
                ("JSON-2 shop A", "JSON-2 cycle A"),
                ("JSON-2 shop B", "JSON-2 cycle B"),
            )
        )
        cls.partner_a, cls.partner_b = cls.env["res.partner"].create(
            [
                {"name": "JSON-2 customer of A", "company_id": cls.company_a.id},
                {"name": "JSON-2 customer of B", "company_id": cls.company_b.id},
            ]
        )
        # With and without the access (the buyer list), with and without
        # the sales rights (the cycles), all of shop A only.
        cls.salesman = cls._user(
            "json2-salesman", f"sales_team.group_sale_salesman,{GROUP_XMLID}"
        )
        cls.developer = cls._user("json2-dev", f"base.group_user,{GROUP_XMLID}")
        cls.employee = cls._user("json2-employee", "base.group_user")
        cls.keys = {
            user.login: cls._key(user, None)
            for user in (cls.salesman, cls.developer, cls.employee)
        }

    @classmethod
    def _user(cls, login, groups):
        return new_test_user(
            cls.env,
            login=login,
            password=login,
            groups=groups,
            company_id=cls.company_a.id,
            company_ids=[(6, 0, cls.company_a.ids)],
        )

    @classmethod
    def _key(cls, user, scope):
        return (
            cls.env["res.users.apikeys"]
            .with_user(user)
            ._generate(scope, "JSON-2", datetime.now() + timedelta(days=1))
        )

    def json2(self, key, model, method, body=None, headers=None, http_method="POST"):
        headers = {"Authorization": f"bearer {key}", **(headers or {})}
        if body is not None:
            headers["Content-Type"] = "application/json"
        with mute_logger("odoo.http"):
            return self.opener.request(
                http_method,
                f"{self.base_url()}/json/2/{model}/{method}",
                data=None if body is None else json.dumps(body),
                headers=headers,
                timeout=60,
                allow_redirects=False,
            )

    def xmlrpc(self, login, model, method, args, kwargs):
        return self.xmlrpc_object.execute_kw(
            self.env.cr.dbname,
            self.env["res.users"].search([("login", "=", login)]).id,
            self.keys[login],
            model,
            method,
            args,
            kwargs,
        )

    def assertJson2Error(self, response, status, name):
        self.assertEqual(response.status_code, status, response.text)
        self.assertEqual(
            response.headers["Content-Type"], "application/json; charset=utf-8"
        )
        body = response.json()
        self.assertEqual(
            set(body), {"name", "message", "arguments", "context", "debug"}
        )
        self.assertEqual(body["name"], name)
        self.assertTrue(body["message"])
        self.assertEqual(body["arguments"][0], body["message"])
        if name.startswith("werkzeug."):  # Odoo 19: (description, status)
            self.assertEqual(body["arguments"], [body["message"], status])
        self.assertEqual(body["debug"], "", "no traceback is sent")
        return body

    def test_reads_with_the_rights_of_xmlrpc(self):
        """Whatever XML-RPC's execute_kw answers a key's user, JSON-2 answers
        the same; whatever it refuses, JSON-2 refuses."""
        calls = [
            # (model, method, ids, named arguments)
            ("coop.buyer", "search_read", [], {"domain": [], "fields": ["id"]}),
            ("coop.buyer", "search_count", [], {"domain": []}),
            ("coop.sale.cycle", "search_read", [], {"fields": ["name", "company_id"]}),
            ("coop.sale.cycle", "read", self.cycle_a.ids, {"fields": ["name"]}),
            ("coop.sale.cycle", "read", self.cycle_b.ids, {"fields": ["name"]}),
            ("res.partner", "read", self.partner_b.ids, {"fields": ["name"]}),
            ("res.partner", "search", [], {"domain": [("id", "=", self.partner_b.id)]}),
            ("res.users.apikeys", "search_read", [], {"fields": ["name", "user_id"]}),
            (
                "coop.sale.cycle",
                "write",
                self.cycle_a.ids,
                {"values": {"name": "Hacked"}},
            ),
            ("coop.sale.cycle", "action_open", self.cycle_a.ids, {}),
            ("res.partner", "unlink", self.partner_b.ids, {}),
            # Private methods: a leading underscore, and @api.private.
            ("res.partner", "_compute_display_name", self.partner_b.ids, {}),
            (
                "coop.buyer",
                "_read_group",
                [],
                {"domain": [], "groupby": ["company_id"]},
            ),
            ("res.partner", "ensure_one", self.partner_b.ids, {}),
            # Context keys do not widen the rights: another company, su, uid.
            (
                "coop.sale.cycle",
                "search_read",
                [],
                {
                    "fields": ["name"],
                    "context": {"allowed_company_ids": self.company_b.ids},
                },
            ),
            (
                "coop.sale.cycle",
                "search_read",
                [],
                {"fields": ["name"], "context": {"su": True, "uid": 1, "sudo": True}},
            ),
            (
                "coop.buyer",
                "search_read",
                [],
                {"domain": [], "fields": ["id"], "context": {"active_test": False}},
            ),
        ]
        compared = 0
        for login in self.keys:
            for model, method, ids, kwargs in calls:
                with self.subTest(login=login, model=model, method=method, kw=kwargs):
                    args = [ids] if ids else []  # record methods take ids first
                    try:
                        expected = json.loads(
                            json.dumps(self.xmlrpc(login, model, method, args, kwargs))
                        )
                    except Fault:
                        expected = None
                    body = {"ids": ids, **kwargs}
                    response = self.json2(self.keys[login], model, method, body)
                    if expected is None:
                        self.assertIn(response.status_code, (403, 404), response.text)
                        self.assertIn(
                            response.json()["name"],
                            (
                                "odoo.exceptions.AccessError",
                                "odoo.exceptions.MissingError",
                            ),
                        )
                    else:
                        self.assertEqual(response.status_code, 200, response.text)
                        self.assertEqual(response.json(), expected)
                        compared += 1
        # Both users read something; neither changed anything.
        self.assertGreater(compared, 6)
        self.assertEqual(self.cycle_a.name, "JSON-2 cycle A")
        self.assertEqual(self.cycle_a.state, "draft")
        self.assertTrue(self.partner_b.exists())

    def test_private_methods_are_refused_as_odoo_19_does(self):
        key = self.keys["json2-dev"]
        for method in ("_compute_display_name", "ensure_one", "init"):
            with self.subTest(method=method):
                body = self.assertJson2Error(
                    self.json2(key, "res.partner", method, {"ids": self.partner_b.ids}),
                    403,
                    "odoo.exceptions.AccessError",
                )
                self.assertIn("Private methods", body["message"])

    def test_scoped_keys_are_refused_as_odoo_19_refuses_them(self):
        """Odoo 19's bearer check asks for the scope "rpc": global keys and
        "rpc" keys pass; the Developer settings' scoped keys do not."""
        body = {"domain": [("id", "=", self.partner_a.id)], "fields": ["name"]}
        for scope in ("coop.buyers.read", "coop.webhooks.manage"):
            with self.subTest(scope=scope):
                response = self.json2(
                    self._key(self.developer, scope), "res.partner", "search_read", body
                )
                self.assertJson2Error(response, 401, "werkzeug.exceptions.Unauthorized")
                self.assertRegex(response.headers["WWW-Authenticate"], "^Bearer")
        for key in (self.keys["json2-dev"], self._key(self.developer, "rpc")):
            response = self.json2(key, "res.partner", "search_read", body)
            self.assertEqual(
                response.json(),
                [{"id": self.partner_a.id, "name": self.partner_a.name}],
            )
        # Not printable ASCII (the red team's NUL): no key, never a 500.
        for key in ("", "not-a-key", "a\x00b", "clé"):
            self.assertJson2Error(
                self.json2(key, "res.partner", "search", {"domain": []}),
                401,
                "werkzeug.exceptions.Unauthorized",
            )

    def test_requests_and_answers_as_odoo_19_documents(self):
        key = self.keys["json2-dev"]
        # Named arguments, the ids and the context; records come back as ids.
        response = self.json2(
            self._key(self.env.ref("base.user_admin"), None),
            "res.partner",
            "create",
            {"vals_list": [{"name": "Deco Addict"}], "context": {"lang": "en_US"}},
        )
        self.assertEqual(response.status_code, 200, response.text)
        [created] = response.json()
        self.assertEqual(self.env["res.partner"].browse(created).name, "Deco Addict")
        response = self.json2(
            key,
            "res.users",
            "context_get",
            {},
            headers={"X-Odoo-Database": self.env.cr.dbname},
        )
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json()["uid"], self.developer.id, "the key's user")
        response = self.json2(
            key, "res.partner", "search", {"domain": [("company_id", "!=", False)]}
        )
        self.assertEqual(
            response.json(),
            self.env["res.partner"]
            .with_user(self.developer)
            .search([("company_id", "!=", False)])
            .ids,
        )
        self.assertNotIn(self.partner_b.id, response.json(), "shop A's user")
        self.assertEqual(
            response.headers["Content-Type"], "application/json; charset=utf-8"
        )
        # Without a body, an @api.model method takes its defaults.
        response = self.json2(key, "res.users", "context_get")
        self.assertEqual(response.status_code, 200, response.text)

        errors = [
            (("no.such.model", "read", {}), 404, "werkzeug.exceptions.NotFound"),
            (
                ("res.partner", "no_such_method", {}),
                404,
                "werkzeug.exceptions.NotFound",
            ),
            (
                ("res.partner", "search", {"ids": [1], "domain": []}),
                422,
                "werkzeug.exceptions.UnprocessableEntity",
            ),
            (
                ("res.partner", "search_count", {"bogus_kwarg": 1}),
                422,
                "werkzeug.exceptions.UnprocessableEntity",
            ),
            (
                ("res.partner", "read", {"ids": ["1"], "fields": ["name"]}),
                422,
                "werkzeug.exceptions.UnprocessableEntity",
            ),
        ]
        for (model, method, body), status, name in errors:
            with self.subTest(model=model, method=method):
                self.assertJson2Error(
                    self.json2(key, model, method, body), status, name
                )
        self.assertJson2Error(
            self.json2(
                self._key(self.env.ref("base.user_admin"), None),
                "res.partner",
                "write",
                {"ids": [10**9], "vals": {"name": "Gone"}},
            ),
            404,
            "odoo.exceptions.MissingError",
        )
        # Not JSON, not an object, not POST, not a model/method path.
        url = f"{self.base_url()}/json/2/res.partner/search"
        headers = {"Authorization": f"bearer {key}"}
        with mute_logger("odoo.http"):
            for data, content_type in (
                ("{", "application/json"),
                ("[1]", "application/json"),
                ("domain=", "application/x-www-form-urlencoded"),
            ):
                response = self.opener.post(
                    url,
                    data=data,
                    headers={**headers, "Content-Type": content_type},
                    timeout=60,
                )
                self.assertJson2Error(response, 400, "werkzeug.exceptions.BadRequest")
            response = self.opener.get(
                url, headers=headers, timeout=60, allow_redirects=False
            )
            self.assertJson2Error(response, 405, "werkzeug.exceptions.MethodNotAllowed")
            self.assertEqual(response.headers["Allow"], "POST")
            for path in (
                "/json/2",
                "/json/2/res.partner",
                "/json/2/res.partner/search/x",
            ):
                response = self.opener.post(
                    self.base_url() + path,
                    json={},
                    headers=headers,
                    timeout=60,
                    allow_redirects=False,
                )
                body = self.assertJson2Error(
                    response, 404, "werkzeug.exceptions.NotFound"
                )
                self.assertIn("POST /json/2/<model>/<method>", body["message"])
        # Another database than this one.
        self.assertJson2Error(
            self.json2(
                key, "res.partner", "search", {}, headers={"X-Odoo-Database": "other"}
            ),
            404,
            "werkzeug.exceptions.NotFound",
        )

    def test_an_error_rolls_the_call_back(self):
        admin_key = self._key(self.env.ref("base.user_admin"), None)
        partner = self.env["res.partner"].create({"name": "Before"})
        # The name is written, then the recursion check refuses the parent.
        body = self.assertJson2Error(
            self.json2(
                admin_key,
                "res.partner",
                "write",
                {
                    "ids": partner.ids,
                    "vals": {"name": "After", "parent_id": partner.id},
                },
            ),
            422,
            "odoo.exceptions.ValidationError",
        )
        self.assertTrue(body["message"])
        partner.invalidate_recordset()
        self.assertEqual(partner.name, "Before")

    def test_errors_in_the_request_language(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        response = self.json2(
            "not-a-key",
            "res.partner",
            "search",
            {},
            headers={"Accept-Language": "fr-FR,fr;q=0.9"},
        )
        body = self.assertJson2Error(response, 401, "werkzeug.exceptions.Unauthorized")
        self.assertIn("Clé d'API invalide", body["message"])
        # A region not installed: the language's installed one (fr_FR).
        response = self.json2(
            "not-a-key",
            "res.partner",
            "search",
            {},
            headers={"Accept-Language": "fr-BE"},
        )
        body = self.assertJson2Error(response, 401, "werkzeug.exceptions.Unauthorized")
        self.assertIn("Clé d'API invalide", body["message"])

    def test_an_administrator_switches_it_off(self):
        key = self.keys["json2-dev"]
        settings = self.env["res.config.settings"].create({})
        self.assertTrue(settings.coop_json2_api, "on by default")
        settings.coop_json2_api = False
        settings.execute()
        self.assertEqual(
            self.env["ir.config_parameter"].get_param(JSON2_PARAM), "False"
        )
        self.assertFalse(self.env["res.config.settings"].create({}).coop_json2_api)
        body = self.assertJson2Error(
            self.json2(key, "res.partner", "search", {"domain": []}),
            404,
            "werkzeug.exceptions.NotFound",
        )
        self.assertIn("switched off", body["message"])
        settings = self.env["res.config.settings"].create({"coop_json2_api": True})
        settings.execute()
        self.assertEqual(
            self.json2(key, "res.partner", "search", {"domain": []}).status_code, 200
        )
