# First: coop.sealed.mixin, inherited by the models that keep secrets.
from . import coop_secret_vault
from . import coop_api_key_usage
from . import coop_api_parameters
from . import coop_buyer_source

# Before the newsletter campaigns, which import the webhook source's events.
from . import coop_sale_cycle
from . import coop_sale_cycle_webhook
from . import coop_newsletter_connection
from . import coop_newsletter_campaign_rule
from . import coop_newsletter_campaign
from . import coop_newsletter_connection_campaign
from . import coop_newsletter_connection_optout
from . import coop_newsletter_connection_sync
from . import coop_newsletter_connection_health
from . import coop_newsletter_connection_tab
from . import coop_sale_cycle_newsletter
from . import coop_webhook_attempt
from . import coop_webhook_delivery
from . import coop_webhook_delivery_job
from . import coop_webhook_endpoint
from . import coop_webhook_endpoint_health
from . import coop_webhook_endpoint_owner
from . import coop_webhook_endpoint_replay
from . import coop_webhook_endpoint_secrets
from . import coop_webhook_event
from . import coop_webhook_event_type
from . import coop_webhook_reminder
from . import coop_webhook_secret_show
from . import ir_config_parameter
from . import mail_blacklist
from . import res_config_settings
from . import res_groups
from . import res_partner
from . import res_users
from . import res_users_apikeys
from . import res_users_apikeys_description
from . import res_users_apikeys_show
from . import sale_order

# The tab's presenter: on the endpoint and the user models above.
from . import coop_developer_tab

# Last: its init() fills the table from columns that the models above add.
from . import coop_buyer
from . import coop_buyer_page
