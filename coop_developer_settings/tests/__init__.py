from . import test_access_group
from . import test_translations
