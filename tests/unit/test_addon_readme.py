"""tools/addon_readme.py: the addon's README.rst, generated from readme/*.md."""

import sys

import pytest
from harness import ADDON, ROOT

sys.path.insert(0, str(ROOT / "tools"))

import addon_readme  # noqa: E402

MANIFEST = """{
    "name": "Tiny",
    "summary": "A tiny addon",
    "author": "Someone, Someone else",
}"""


def test_markdown_constructs_become_valid_rst():
    markdown = """\
# Heading

Text with **bold**s, a_b_ word_, *em*, `code`x, [a link](https://x.org)
and <https://y.org>.

- item one
  continued

  second paragraph
- item two
  1. nested
  2. nested again

![Screenshot](../static/description/tab.png)

```python
x = 1
```
"""
    rst = addon_readme.markdown_to_rst(markdown)
    assert rst == [
        "Heading",
        "-------",
        "",
        "Text with **bold**\\ s, a_b\\_ word\\_, *em*, ``code``\\ x, "
        "`a link <https://x.org>`__",
        "and https://y.org.",
        "",
        "- item one",
        "  continued",
        "",
        "  second paragraph",
        "",
        "- item two",
        "",
        "  1. nested",
        "  2. nested again",
        "",
        ".. image:: ../static/description/tab.png",
        "   :alt: Screenshot",
        "",
        ".. code-block:: python",
        "",
        "   x = 1",
    ]
    assert addon_readme.rst_problems("\n".join(rst)) == []


def test_pipe_tables_become_list_tables():
    markdown = """\
| Odoo | Brevo |
|------|-------|
| `name` | FIRSTNAME, *split* |
| phone |  |
"""
    rst = addon_readme.markdown_to_rst(markdown)
    assert rst == [
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - Odoo",
        "     - Brevo",
        "   * - ``name``",
        "     - FIRSTNAME, *split*",
        "   * - phone",
        "     -",
    ]
    assert addon_readme.rst_problems("\n".join(rst)) == []


def test_rst_problems_are_reported():
    assert addon_readme.rst_problems("Unclosed *emphasis")


@pytest.mark.parametrize(
    "markdown",
    ["> a quote", "<div>html</div>", "text ![inline](x.png) image", "---"],
)
def test_unsupported_markdown_is_refused(markdown):
    with pytest.raises(addon_readme.FragmentError):
        addon_readme.markdown_to_rst(markdown)


def make_addon(path, **fragments):
    (path / "readme").mkdir(parents=True)
    (path / "__manifest__.py").write_text(MANIFEST)
    for name, text in fragments.items():
        (path / "readme" / f"{name}.md").write_text(text)
    return path


def test_stale_readme_is_rewritten_then_accepted(tmp_path, capsys):
    addon = make_addon(
        tmp_path / "tiny", DESCRIPTION="It does *one* thing.", CONTRIBUTORS="- Me"
    )
    assert addon_readme.main([str(addon)]) == 1, "a missing README.rst is stale"
    assert "was stale" in capsys.readouterr().out
    text = (addon / "README.rst").read_text()
    assert "Description\n===========\n\nIt does *one* thing.\n" in text
    assert "Authors\n-------\n\n- Someone\n- Someone else\n" in text
    assert "Contributors\n------------\n\n- Me\n" in text
    assert addon_readme.main([str(addon)]) == 0, "an up-to-date README.rst passes"

    (addon / "readme" / "DESCRIPTION.md").write_text("It does *two* things.")
    assert addon_readme.main([str(addon)]) == 1, "an edited fragment makes it stale"
    assert "*two* things" in (addon / "README.rst").read_text()


def test_unknown_fragment_stops_the_generation(tmp_path, capsys):
    addon = make_addon(tmp_path / "tiny", DESCRIPTION="Text.", NOTES="Lost?")
    assert addon_readme.main([str(addon)]) == 2
    assert "NOTES.md" in capsys.readouterr().err
    assert not (addon / "README.rst").exists()


def test_the_addon_readme_is_the_generated_one():
    """What the pre-commit hook enforces, also checked where pytest runs."""
    generated = addon_readme.generate(ROOT / ADDON)
    assert (ROOT / ADDON / "README.rst").read_text() == generated, (
        "README.rst differs from readme/*.md: run `python tools/addon_readme.py`"
    )
