from . import coop_api_key_wizard
