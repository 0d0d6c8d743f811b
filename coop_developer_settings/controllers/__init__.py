from . import buyer_api, webhook_api
