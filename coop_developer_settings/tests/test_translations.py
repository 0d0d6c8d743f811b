# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import polib

from odoo.modules.module import get_module_path
from odoo.tests import TransactionCase, tagged
from odoo.tools.translate import TranslationModuleReader

MODULE = "coop_developer_settings"
# Spelled the same in French: the PO formatting (OCA) leaves their msgstr
# empty, and Odoo then shows the source, which is right.
SAME_IN_FRENCH = {
    "Code",
    "Contact",
    "Description",
    "ID",
    "Messages",
    "Secret",
    "Total",
    "URL",
    "Webhooks",
    "webhook-id",
    # placeholders
    "10.1.0.0/16",
    "https://hooks.example.org/...",
    "https://...",
}


@tagged("post_install", "-at_install")
class TestFrenchTranslation(TransactionCase):
    """The first users are French cooperatives: nothing is left in English."""

    def test_every_term_has_a_french_translation(self):
        po = polib.pofile(f"{get_module_path(MODULE)}/i18n/fr.po")
        self.assertFalse(
            [entry.msgid for entry in po.fuzzy_entries()], "fuzzy French entries"
        )
        translated = {entry.msgid for entry in po.translated_entries()}
        translated |= SAME_IN_FRENCH & {entry.msgid for entry in po}
        terms = {
            source
            for module, _type, _name, _res_id, source, _value, _comments in (
                TranslationModuleReader(self.env.cr, modules=[MODULE])
            )
            if module == MODULE and source
        }
        self.assertTrue(terms, "the export found no term: the test would prove nothing")
        missing = sorted(terms - translated)
        self.assertFalse(missing, f"terms without a French translation: {missing}")
