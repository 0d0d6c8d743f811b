from . import base_partner_merge_automatic_wizard
from . import coop_api_key_wizard
