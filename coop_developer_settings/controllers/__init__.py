from . import buyer_api, json2_api, webhook_api
