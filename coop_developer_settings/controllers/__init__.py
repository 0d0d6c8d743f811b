from . import buyer_api
