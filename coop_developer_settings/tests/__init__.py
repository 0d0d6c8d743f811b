from . import test_access_group
from . import test_sale_cycle_access
from . import test_sale_cycle_concurrency
from . import test_sale_cycle_cron
from . import test_sale_cycle_orders
from . import test_sale_cycle_transitions
from . import test_translations
