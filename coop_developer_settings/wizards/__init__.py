from . import base_partner_merge_automatic_wizard
from . import coop_api_key_wizard
from . import coop_webhook_endpoint_owner_wizard
from . import coop_webhook_resend_wizard
