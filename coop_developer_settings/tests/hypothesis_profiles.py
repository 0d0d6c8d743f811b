# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The Hypothesis profiles of every property-based test (the addon's and
those of tests/, which import this module by its name).

HYPOTHESIS_PROFILE picks one: "ci" (the default: `make test`) tries a
quarter of the examples each test asks for, "thorough" all of them (before
a release, or after a change to how input is parsed or checked:
``HYPOTHESIS_PROFILE=thorough make test``).
"""

import os

from hypothesis import settings

CI_SHARE = 4
for name in ("ci", "thorough"):
    settings.register_profile(name, deadline=None, print_blob=True)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)


def examples(thorough):
    """The max_examples of a test: thorough, or its share in the ci profile."""
    return thorough if PROFILE == "thorough" else max(thorough // CI_SHARE, 10)
