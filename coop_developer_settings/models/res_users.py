# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from contextlib import contextmanager

from markupsafe import Markup

from odoo import Command, api, fields, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.base.models.res_users import (
    get_boolean_group,
    get_selection_groups,
    parse_m2m,
)

GROUP_XMLID = "coop_developer_settings.group_developer_settings"
# The user form writes groups through these generated fields too.
GROUP_FIELD_PREFIXES = ("in_group_", "sel_groups_")
# Set while a change of the access is watched: a nested write (e.g. the
# implied groups Odoo adds) leaves the outer watch to conclude.
WATCHING = "coop_watching_developer_access"
# Its value: an object no RPC call can send, so that a caller's context
# never turns the watch off.
WATCHED = object()


class ResUsers(models.Model):
    _inherit = "res.users"

    coop_developer_access = fields.Boolean(
        string="Has Developer settings access",
        compute="_compute_coop_developer_access",
    )
    coop_webhook_endpoint_ids = fields.One2many(
        "coop.webhook.endpoint", "user_id", string="Webhooks"
    )
    coop_revoke_on_access_removal = fields.Boolean(
        string="On removal of the access, revoke API keys and disable webhooks",
        compute="_compute_coop_revoke_on_access_removal",
        inverse="_inverse_coop_revoke_on_access_removal",
        help="When Developer settings access is removed from this user, their "
        "API keys are revoked and their webhooks disabled. Untick to keep them.",
    )

    # The access given on its own (its checkbox, the group's users list), not
    # only as part of a group that implies it (Settings): kept when that
    # group is taken away.
    coop_developer_access_direct = fields.Boolean(
        string="Developer settings access given on its own",
        readonly=True,
        copy=False,
        groups="base.group_system",
    )

    @property
    def SELF_READABLE_FIELDS(self):
        return super().SELF_READABLE_FIELDS + [
            "coop_developer_access",
            "coop_webhook_endpoint_ids",
        ]

    @api.depends("groups_id")
    def _compute_coop_developer_access(self):
        group = self.env.ref(GROUP_XMLID)
        for user in self:
            user.coop_developer_access = group in user.groups_id

    def _compute_coop_revoke_on_access_removal(self):
        # Not stored: a choice made with each removal, on by default.
        self.coop_revoke_on_access_removal = True

    def _inverse_coop_revoke_on_access_removal(self):
        """Read by write() in the same call; nothing to store."""

    def _coop_check_developer_access(self):
        if not self.env.user.has_group(GROUP_XMLID):
            raise AccessError(
                self.env._(
                    "Only users with Developer settings access can manage API keys "
                    "and webhooks here. Ask an administrator for the access."
                )
            )

    def action_coop_generate_api_key(self):
        """The Generate API key button of the Developer settings tab."""
        self.ensure_one()
        if self != self.env.user:
            raise AccessError(
                self.env._("You can only generate API keys for yourself.")
            )
        self._coop_check_developer_access()
        return {
            "type": "ir.actions.act_window",
            "res_model": "coop.api.key.wizard",
            "name": self.env._("Generate an API key"),
            "target": "new",
            "views": [(False, "form")],
        }

    @api.model
    def _coop_users_with_access(self):
        """The active users who hold the access now."""
        group = self.env.ref(GROUP_XMLID, raise_if_not_found=False)
        if not group:  # while the module is installed or uninstalled
            return self.browse()
        self.env.flush_all()
        return (
            self.sudo()
            .with_context(active_test=True)
            .search([("groups_id", "in", group.ids)])
        )

    @api.model
    def _coop_users_with_implying_group(self):
        """The active users in a group that implies the access (Settings)."""
        group = self.env.ref(GROUP_XMLID, raise_if_not_found=False)
        if not group:
            return self.browse()
        implying = (
            self.env["res.groups"]
            .sudo()
            .search([("id", "!=", group.id)])
            .filtered(lambda other: group in other.trans_implied_ids)
        )
        self.env.flush_all()
        return (
            self.sudo()
            .with_context(active_test=True)
            .search([("groups_id", "in", implying.ids)])
        )

    @contextmanager
    def _coop_watch_access(self, revoke=True):
        """Around a change that may take the access away (groups, group
        members, implied groups, archiving): whoever held it before and not
        after lost it, whatever path the change took.

        Odoo keeps a group implied by one taken away (Settings unticked
        leaves Developer settings access): those who held the access only
        through it lose it too.

        Yields the recordset to run the change with.
        """
        if self.env.context.get(WATCHING) is WATCHED:
            yield self
            return
        before = self._coop_users_with_access()
        implied = self._coop_users_with_implying_group()
        yield self.with_context(**{WATCHING: WATCHED})
        demoted = (implied - self._coop_users_with_implying_group()).filtered(
            lambda user: not user.coop_developer_access_direct
        )
        if demoted:
            demoted.with_context(**{WATCHING: WATCHED}).write(
                {"groups_id": [Command.unlink(self.env.ref(GROUP_XMLID).id)]}
            )
        lost = before - self._coop_users_with_access()
        if lost:
            lost.coop_developer_access_direct = False
            lost.with_context(**{WATCHING: False})._coop_on_access_removed(revoke)

    @api.model
    def _coop_access_given(self, vals):
        """Whether vals (of a user) give the access on its own (True), take
        it (False), or do not name it (None): its checkbox or selection on
        the user form, or the groups."""
        group_id = self.env.ref(GROUP_XMLID).id
        given = None
        for key, value in vals.items():
            if key.startswith("in_group_") and get_boolean_group(key) == group_id:
                given = bool(value)
            elif key.startswith("sel_groups_") and group_id in get_selection_groups(
                key
            ):
                given = value == group_id
            elif key == "groups_id":
                removed = any(
                    isinstance(command, (tuple, list))
                    and command[0] in (Command.UNLINK, Command.DELETE)
                    and command[1] == group_id
                    for command in value
                )
                if group_id in parse_m2m(value):
                    given = True
                elif removed:
                    given = False
        return given

    @api.model_create_multi
    def create(self, vals_list):
        users = super().create(vals_list)
        for user, vals in zip(users, vals_list, strict=True):
            if self._coop_access_given(vals):
                # As administrator: Access Rights managers give groups too.
                user.sudo().coop_developer_access_direct = True
        return users

    def write(self, vals):
        revoke = vals.pop("coop_revoke_on_access_removal", True)
        if "active" not in vals and not any(
            key == "groups_id" or key.startswith(GROUP_FIELD_PREFIXES) for key in vals
        ):
            return super().write(vals)
        given = self._coop_access_given(vals)
        with self._coop_watch_access(revoke) as users:
            result = super(ResUsers, users).write(vals)
            if given is not None:
                users.sudo().coop_developer_access_direct = given
            return result

    def unlink(self):
        # Deleted users lose the access too: their keys and webhooks go with
        # them (cascade), their contact keeps the note. What can refuse the
        # deletion comes first: disconnecting their newsletter connections
        # calls the providers, which a refused deletion cannot undo.
        self.check_access("unlink")
        self._coop_refuse_while_delivering()
        with_access = self & self.env["res.users"]._coop_users_with_access()
        with_access._coop_on_access_removed(revoke=True, deleted=True)
        return super().unlink()

    def _coop_refuse_while_delivering(self):
        """The cascade from the users to their webhooks' deliveries would
        wait for a job sending one of them (up to its receivers' timeout):
        their endpoints are deleted first, which never waits; one still
        there (a job is sending to it, or was when it was deleted) refuses
        the deletion at once, with what to do."""
        endpoints = (
            self.env["coop.webhook.endpoint"]
            .sudo()
            .with_context(active_test=False)
            .search([("user_id", "in", self.ids)])
        )
        endpoints.filtered("active").unlink()
        if endpoints.exists():
            raise UserError(
                self.env._(
                    "A delivery of this user's webhooks is being sent right now: "
                    "delete the user again in a minute."
                )
            )

    def _coop_on_access_removed(self, revoke, deleted=False):
        """Developer settings access was just removed from these users (or
        they are being deleted)."""
        admin = self.env.user.name
        for user in self.sudo():
            if not revoke:
                body = self.env._(
                    "Developer settings access removed by %(admin)s; API keys and "
                    "webhooks kept on request.",
                    admin=admin,
                )
                user.partner_id.message_post(
                    body=Markup("<p>%s</p>") % body, subtype_xmlid="mail.mt_note"
                )
                continue
            keys = user.api_key_ids
            count = len(keys)
            keys.unlink()
            # Their connections are disconnected (and, for a deleted user,
            # then go by cascade): opt-out webhooks unregistered, newsletters
            # not sent cancelled at the provider.
            self.env["coop.newsletter.connection"].sudo().search(
                [("user_id", "=", user.id), ("state", "!=", "disconnected")]
            )._disconnect(self.env._("Developer settings access removed."))
            endpoints = user.coop_webhook_endpoint_ids
            if deleted:
                endpoints.unlink()
                body = self.env._(
                    "User deleted by %(admin)s: %(count)s API key(s) revoked and "
                    "webhooks deleted.",
                    admin=admin,
                    count=count,
                )
            else:
                endpoints.filtered(lambda endpoint: endpoint.state == "enabled").write(
                    {
                        "state": "disabled",
                        "disabled_reason": self.env._(
                            "Developer settings access removed."
                        ),
                    }
                )
                body = self.env._(
                    "Developer settings access removed by %(admin)s: %(count)s API "
                    "key(s) revoked and webhooks disabled.",
                    admin=admin,
                    count=count,
                )
            user.partner_id.message_post(
                body=Markup("<p>%s</p>") % body, subtype_xmlid="mail.mt_note"
            )
