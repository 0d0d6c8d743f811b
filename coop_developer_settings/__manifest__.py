# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
{
    "name": "Coop Developer Settings",
    "summary": "API keys and signed webhooks that connect a food cooperative's "
    "shop to its newsletter tools",
    "version": "18.0.1.2.0",
    "category": "Sales",
    "website": "https://github.com/coop-developer-settings/coop-developer-settings",
    "author": "Coop Developer Settings contributors",
    "maintainers": ["coop-developer-settings"],
    "license": "AGPL-3",
    "development_status": "Alpha",
    "depends": ["sale", "queue_job"],
    "external_dependencies": {
        "python": ["cryptography", "idna", "phonenumbers", "requests"]
    },
    "data": [
        "security/coop_developer_settings_security.xml",
        "security/ir.model.access.csv",
        "security/coop_sale_cycle_security.xml",
        "security/coop_buyer_security.xml",
        "security/coop_webhook_security.xml",
        "security/coop_newsletter_security.xml",
        "security/coop_wizard_security.xml",
        "data/ir_config_parameter_data.xml",
        "data/coop_webhook_event_type_data.xml",
        "data/queue_job_data.xml",
        "data/mail_message_subtype_data.xml",
        "data/mail_template_data.xml",
        "data/ir_cron_data.xml",
        "views/coop_sale_cycle_views.xml",
        "views/coop_buyer_views.xml",
        "views/coop_webhook_endpoint_views.xml",
        "views/coop_webhook_delivery_views.xml",
        "views/coop_webhook_event_views.xml",
        "views/coop_webhook_event_type_views.xml",
        "views/coop_webhook_endpoint_owner_wizard_views.xml",
        "views/coop_webhook_resend_wizard_views.xml",
        "views/sale_order_views.xml",
        "views/res_users_apikeys_views.xml",
        "views/res_users_views.xml",
        "views/res_partner_views.xml",
        "views/res_config_settings_views.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "coop_developer_settings/static/src/developer_tab/*",
        ],
        "web.assets_tests": [
            "coop_developer_settings/static/tests/tours/*.js",
        ],
    },
    "demo": [
        "demo/coop_sale_cycle_demo.xml",
        "demo/res_users_demo.xml",
    ],
    "uninstall_hook": "uninstall_hook",
    "installable": True,
    "application": False,
}
