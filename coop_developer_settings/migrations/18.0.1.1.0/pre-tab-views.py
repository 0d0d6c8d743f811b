# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""18.0.1.1.0: the Developer settings tab is one widget.

The fields the former tab listed (res.users coop_api_key_ids and
coop_webhook_event_type_ids, res.partner coop_api_key_ids and
coop_webhook_endpoint_ids) are gone; the former arch of the tab's views
still names them, and Odoo validates the views of res.users before this
module's new arch is loaded. Those views are emptied here; the upgrade
writes their new arch.
"""

TAB_VIEWS = (
    "res_users_view_form_preferences",
    "res_users_view_form",
    "res_partner_view_form",
)


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        """
        UPDATE ir_ui_view view
           SET arch_db = jsonb_build_object('en_US', '<data/>')
          FROM ir_model_data data
         WHERE data.model = 'ir.ui.view'
           AND data.module = 'coop_developer_settings'
           AND data.name IN %s
           AND view.id = data.res_id
        """,
        [TAB_VIEWS],
    )
