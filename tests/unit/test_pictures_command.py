"""`make pictures` takes every picture of the README: it runs every class
of the addon's pictures tests, whatever their number."""

import ast
import sys

from harness import ADDON, ROOT

sys.path.insert(0, str(ROOT / "tools"))

from coopdev import commands  # noqa: E402

PICTURES_TESTS = ROOT / ADDON / "tests" / "test_developer_tab_pictures.py"


def class_tags(tree):
    """{class name: (its tags, with those of its bases in the file; whether
    it has tests)}: what Odoo's `tagged` gives each class."""
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    tags = {}

    def of(name):
        if name not in tags:
            node = classes[name]
            own = {
                arg.value if isinstance(arg, ast.Constant) else arg.id
                for decorator in node.decorator_list
                if isinstance(decorator, ast.Call) and decorator.func.id == "tagged"
                for arg in decorator.args
            }
            inherited = set()
            for base in node.bases:
                if isinstance(base, ast.Name) and base.id in classes:
                    inherited |= of(base.id)
            tags[name] = (inherited | own) - {t[1:] for t in own if t[0] == "-"}
        return tags[name]

    constants = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
    }
    return {
        name: (
            {constants.get(tag, tag) for tag in of(name)},
            any(
                isinstance(item, ast.FunctionDef) and item.name.startswith("test_")
                for item in node.body
            ),
        )
        for name, node in classes.items()
    }


def test_make_pictures_runs_every_pictures_class(monkeypatch):
    asked = {}

    def run_odoo_tests(odoo_dir, db, test_tags, env=None):
        asked.update(test_tags=test_tags, env=env)
        return 1, 0

    monkeypatch.setattr(commands, "prepare", lambda db_uri: ("odoo", "template"))
    monkeypatch.setattr(commands, "ensure_test_tools", lambda: None)
    monkeypatch.setattr(commands, "run_odoo_tests", run_odoo_tests)
    monkeypatch.setattr(commands, "info", lambda text: None)
    assert commands.cmd_pictures(type("Args", (), {"db_uri": None})) == 0
    assert asked["env"]["COOP_WRITE_PICTURES"] == "1"
    # Odoo's selector: tag/module, every test of the module with that tag.
    tag, _, module = asked["test_tags"].partition("/")
    assert (tag, module) == (commands.PICTURES_TAG, ADDON)
    with_tests = {
        name: tags
        for name, (tags, has_tests) in class_tags(
            ast.parse(PICTURES_TESTS.read_text())
        ).items()
        if has_tests
    }
    assert {"TestDeveloperTabPictures", "TestNewsletterPictures"} <= set(with_tests)
    assert {name for name, tags in with_tests.items() if tag not in tags} == set()
