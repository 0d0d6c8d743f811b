# Odoo imports its addons as odoo.addons.<name>. Imported by its own name
# (`from coop_developer_settings.webhook import signing`: the unit tests,
# without Odoo), the addon brings only its plain packages, which never import
# odoo.
if __name__.startswith("odoo.addons."):
    from . import cli
    from . import controllers
    from . import models
    from . import wizards
    from .hooks import uninstall_hook
