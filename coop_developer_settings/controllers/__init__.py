from . import buyer_api, json2_api, newsletter_optout, sale_cycle_api, webhook_api
