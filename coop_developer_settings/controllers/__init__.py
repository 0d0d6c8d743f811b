from . import buyer_api, sale_cycle_api, webhook_api
