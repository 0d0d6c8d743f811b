# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import polib

from odoo.modules.module import get_module_path
from odoo.tests import TransactionCase, tagged
from odoo.tools.translate import (
    PoFileReader,
    TranslationModuleReader,
    code_translations,
)

MODULE = "coop_developer_settings"
# Spelled the same in French: the PO formatting (OCA) leaves their msgstr
# empty, and Odoo then shows the source, which is right.
SAME_IN_FRENCH = {
    "Brevo",
    "Code",
    "Contact",
    "Description",
    "ID",
    "Mailchimp",
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

    def terms(self):
        """The module's terms, as Odoo's export finds them."""
        terms = {
            source
            for module, _type, _name, _res_id, source, _value, _comments in (
                TranslationModuleReader(self.env.cr, modules=[MODULE])
            )
            if module == MODULE and source
        }
        self.assertTrue(terms, "the export found no term: the test would prove nothing")
        return terms

    def test_every_term_has_a_french_translation(self):
        i18n = f"{get_module_path(MODULE)}/i18n"
        po = polib.pofile(f"{i18n}/fr.po")
        self.assertFalse(
            [entry.msgid for entry in po.fuzzy_entries()], "fuzzy French entries"
        )
        # Read as Odoo loads it: merged with the .pot, whose missing terms
        # make the French ones obsolete (not loaded).
        translated = {
            entry["src"] for entry in PoFileReader(f"{i18n}/fr.po") if entry["value"]
        }
        translated |= SAME_IN_FRENCH & {entry.msgid for entry in po}
        missing = sorted(self.terms() - translated)
        self.assertFalse(missing, f"terms without a French translation: {missing}")

    def test_the_template_has_every_term(self):
        pot = polib.pofile(f"{get_module_path(MODULE)}/i18n/{MODULE}.pot")
        self.assertEqual(
            {entry.msgid for entry in pot},
            self.terms(),
            f"i18n/{MODULE}.pot is stale: export it again (README, Translations)",
        )

    def test_the_web_client_terms_agree_with_the_other_modules(self):
        """The web client puts every installed module's terms in one
        dictionary, in the order of a set of module names: a term the addon
        translates otherwise than another module reads one way or the other
        from one server start to the next (Discard: Ignorer, Abandonner)."""

        def terms(module):
            web = code_translations.get_web_translations(module, "fr_FR")
            return {message["id"]: message["string"] for message in web["messages"]}

        ours = terms(MODULE)
        self.assertTrue(ours, "no French term of the web client: nothing checked")
        conflicts = sorted(
            (source, ours[source], module, theirs[source])
            for module in self.env.registry._init_modules - {MODULE}
            for theirs in [terms(module)]
            for source in ours.keys() & theirs.keys()
            if ours[source] != theirs[source]
        )
        self.assertFalse(conflicts, "French terms of the web client in conflict")
