from . import buyer_api, json2_api, sale_cycle_api, webhook_api
