from . import coop_sale_cycle
from . import sale_order
