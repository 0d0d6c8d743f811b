#!/usr/bin/env python3
"""Write an addon's README.rst from its ``readme/*.md`` fragments (OCA style).

    python tools/addon_readme.py [ADDON_DIR ...]   # default: coop_developer_settings

The fragments are the source: README.rst says the same thing, generated.
Exits 1 after rewriting a stale README.rst (the pre-commit hook then fails
until the new file is committed), 2 on a fragment it cannot convert.
Markdown is read with markdown-it-py (CommonMark); the result is checked with
docutils, so that a README that would render badly never gets written.
"""

import ast
import sys
import unicodedata
from pathlib import Path

from docutils.core import publish_doctree
from docutils.utils import SystemMessage
from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ADDONS = ("coop_developer_settings",)
# OCA's fragments, in OCA's order, with their section titles.
SECTIONS = (
    ("DESCRIPTION.md", "Description"),
    ("INSTALL.md", "Installation"),
    ("CONFIGURE.md", "Configuration"),
    ("USAGE.md", "Usage"),
    ("ROADMAP.md", "Known issues / Roadmap"),
    ("HISTORY.md", "Changelog"),
)
CREDITS = (("CONTRIBUTORS.md", "Contributors"), ("OTHER_CREDITS.md", "Other credits"))
# Section underlines: "=" for sections, then "-" (Credits' subsections), "~", "^".
UNDERLINES = "=-~^"
HEADER = """\
.. This file is generated from readme/*.md and __manifest__.py by
   tools/addon_readme.py (a pre-commit hook): edit those, not this file.
"""


class FragmentError(Exception):
    """Markdown this generator does not convert: the message says what to use."""


def is_markup_boundary(char, closing):
    """May RST inline markup start (or end) next to this character?"""
    if not char or char.isspace():
        return True
    if char in ("-:/'\"<([{" if not closing else "-.,:;!?\\/'\")]}>"):
        return True
    category = unicodedata.category(char)
    return category in (("Pd", "Po", "Pi", "Pf") + (("Pe",) if closing else ("Ps",)))


def escape_text(text):
    """Plain text, with RST's markup characters made literal."""
    out = []
    for index, char in enumerate(text):
        following = text[index + 1 : index + 2]
        if char in "\\*`|" or (char == "_" and not following.isalnum()):
            out.append("\\")
        out.append(char)
    return "".join(out)


def plain_text(node):
    return "".join(
        child.content if child.type in ("text", "code_inline") else plain_text(child)
        for child in node.children
    )


class Inline:
    """Concatenates inline pieces, keeping RST's markup rules at their edges."""

    def __init__(self):
        self.text = ""
        self.after_markup = False

    def add(self, piece, markup=False):
        if not piece:
            return
        if markup and not is_markup_boundary(self.text[-1:], closing=False):
            self.text += "\\ "
        elif self.after_markup and not is_markup_boundary(piece[0], closing=True):
            self.text += "\\ "
        self.text += piece
        self.after_markup = markup


def render_inline(node):
    inline = Inline()
    for child in node.children:
        if child.type == "text":
            inline.add(escape_text(child.content))
        elif child.type in ("softbreak", "hardbreak"):
            inline.add("\n")
        elif child.type == "code_inline":
            inline.add(f"``{child.content}``", markup=True)
        elif child.type in ("em", "strong"):
            mark = "*" if child.type == "em" else "**"
            inline.add(f"{mark}{render_inline(child)}{mark}", markup=True)
        elif child.type == "link":
            href, label = child.attrs["href"], plain_text(child)
            inline.add(href if label == href else f"`{label} <{href}>`__", markup=True)
        elif child.type == "image":
            raise FragmentError("an image must be a paragraph of its own")
        else:
            raise FragmentError(f"inline Markdown of type {child.type!r}")
    return inline.text


def render_list_item(marker, item):
    lines = render_blocks(item.children)
    indent = " " * len(marker)
    return [marker + lines[0]] + [indent + line if line else "" for line in lines[1:]]


def render_block(node, level):
    if node.type == "paragraph":
        inline = node.children[0]
        if len(inline.children) == 1 and inline.children[0].type == "image":
            image = inline.children[0]
            return [
                f".. image:: {image.attrs['src']}",
                f"   :alt: {plain_text(image)}",
            ]
        return render_inline(inline).split("\n")
    if node.type == "heading":
        title = render_inline(node.children[0])
        depth = level + int(node.tag[1:]) - 1
        if depth >= len(UNDERLINES):
            raise FragmentError(f"a heading of level {node.tag[1:]} is too deep")
        return [title, UNDERLINES[depth] * len(title)]
    if node.type in ("bullet_list", "ordered_list"):
        start = int(node.attrs.get("start", 1))
        lines = []
        for number, item in enumerate(node.children, start):
            marker = "- " if node.type == "bullet_list" else f"{number}. "
            item_lines = render_list_item(marker, item)
            # Items of several blocks are separated by a blank line.
            if lines and (len(item.children) > 1 or "" in lines):
                lines.append("")
            lines += item_lines
        return lines
    if node.type == "table":
        # GitHub's pipe tables, as RST list tables: one line per cell.
        lines = [".. list-table::", "   :header-rows: 1", ""]
        for part in node.children:  # thead, tbody
            for row in part.children:
                for index, cell in enumerate(row.children):
                    text = render_inline(cell.children[0]) if cell.children else ""
                    marker = "   * - " if index == 0 else "     - "
                    lines.append((marker + text).rstrip())
        return lines
    if node.type in ("fence", "code_block"):
        language = (node.info or "").split(" ")[0] or "text"
        code = node.content.rstrip("\n").split("\n")
        return [f".. code-block:: {language}", ""] + [
            f"   {line}" if line else "" for line in code
        ]
    raise FragmentError(
        f"Markdown of type {node.type!r} (use paragraphs, lists, headings, "
        "code blocks, tables, links and images)"
    )


def render_blocks(nodes, level=1):
    lines = []
    for node in nodes:
        if lines:
            lines.append("")
        lines += render_block(node, level)
    return lines


def markdown_to_rst(text, level=1):
    """RST lines of a Markdown fragment whose headings go below ``level``."""
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    return render_blocks(SyntaxTreeNode(tokens).children, level)


def section(title, level):
    return [title, UNDERLINES[level] * len(title), ""]


def generate(addon_dir):
    """README.rst's text for the addon in ``addon_dir``."""
    manifest = ast.literal_eval((addon_dir / "__manifest__.py").read_text())
    readme = addon_dir / "readme"
    known = {name for name, _title in SECTIONS + CREDITS}
    unknown = sorted(p.name for p in readme.iterdir() if p.name not in known)
    if unknown:
        raise FragmentError(
            f"unknown fragment(s) {', '.join(unknown)} in {readme}: use "
            + ", ".join(sorted(known))
        )
    title = manifest["name"]
    lines = [HEADER, "=" * len(title), title, "=" * len(title), ""]
    lines += [escape_text(manifest["summary"]), ""]
    lines += ["**Table of contents**", "", ".. contents::", "   :local:", ""]

    def fragment(name, level):
        path = readme / name
        try:
            return markdown_to_rst(path.read_text(), level) + [""]
        except FragmentError as exc:
            raise FragmentError(f"{path}: {exc}") from exc

    for name, heading in SECTIONS:
        if (readme / name).is_file():
            lines += section(heading, 0) + fragment(name, 1)
    lines += section("Credits", 0) + section("Authors", 1)
    lines += [f"- {escape_text(a.strip())}" for a in manifest["author"].split(",")]
    lines.append("")
    for name, heading in CREDITS:
        if (readme / name).is_file():
            lines += section(heading, 1) + fragment(name, 2)
    return "\n".join(lines).rstrip("\n") + "\n"


def rst_problems(text):
    """Warnings and errors docutils reports on the text."""
    try:
        doctree = publish_doctree(
            text,
            settings_overrides={
                "report_level": 5,  # collect, do not print
                "halt_level": 5,
                "syntax_highlight": "none",
            },
        )
    except SystemMessage as exc:
        return [str(exc)]
    # findall() replaced traverse() in docutils 0.18; Odoo pins 0.17 on 3.10.
    find = getattr(doctree, "findall", None) or doctree.traverse
    return [
        message.astext()
        for message in find(lambda node: node.tagname == "system_message")
        if message["level"] >= 2
    ]


def main(argv):
    addons = [Path(a) for a in argv] or [ROOT / a for a in DEFAULT_ADDONS]
    status = 0
    for addon_dir in addons:
        target = addon_dir / "README.rst"
        try:
            text = generate(addon_dir)
        except FragmentError as exc:
            print(f"{exc}", file=sys.stderr)
            return 2
        problems = rst_problems(text)
        if problems:
            print(
                f"{target} would not render; fix the fragments in "
                f"{addon_dir / 'readme'}:\n" + "\n".join(problems),
                file=sys.stderr,
            )
            return 2
        if not target.is_file() or target.read_text() != text:
            target.write_text(text)
            print(
                f"{target} was stale: rewritten from {addon_dir / 'readme'}; "
                "review it and commit it."
            )
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
