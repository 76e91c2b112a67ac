"""docs/writing-plugins.md: its generated parts are up to date, and the generator sees every hook."""

from __future__ import annotations

import types
from pathlib import Path

import pluggy

from ganbench import hookspecs
from ganbench.docs import hook_specs, main, render_hook_reference, rest_to_markdown, update_document

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "writing-plugins.md"


def test_the_committed_guide_is_up_to_date():
    text = GUIDE.read_text()
    assert update_document(text, GUIDE.parent) == text, (
        "docs/writing-plugins.md is out of date with ganbench/hookspecs.py or the example plugin: "
        "run python -m ganbench.docs docs/writing-plugins.md"
    )


def test_every_hook_has_a_section_in_the_guide():
    text = GUIDE.read_text()
    names = [spec.__name__ for spec in hook_specs()]
    assert "register_variants" in names and "register_commands" in names
    for name in names:
        assert f"### `{name}`" in text, name


def test_a_new_hookspec_appears_without_changing_the_generator():
    module = types.ModuleType("more_hookspecs")
    marker = pluggy.HookspecMarker("ganbench")

    def register_executors(register):
        """Register executors.

        :param register: call ``register(ExecutorClass)`` for each subclass of
            :class:`ganbench.executors.Executor`.
        """

    module.register_variants = hookspecs.register_variants
    module.register_executors = marker(register_executors)
    module.not_a_hook = lambda: None
    reference = render_hook_reference(module)
    assert reference.index("### `register_variants`") < reference.index("### `register_executors`")
    assert "- `register`: call `register(ExecutorClass)` for each subclass of `ganbench.executors.Executor`." in reference
    assert "not_a_hook" not in reference


def test_rest_roles_literals_and_fields_become_markdown():
    text = "Uses :class:`ganbench.Metric` and ``x``.\n\n:param cli: the app;\n    more words.\n:raises ValueError: when wrong."
    assert rest_to_markdown(text) == (
        "Uses `ganbench.Metric` and `x`.\n\n- `cli`: the app; more words.\n- raises `ValueError`: when wrong."
    )


def test_check_reports_a_stale_file_and_a_run_updates_it(tmp_path, capsys):
    (tmp_path / "example.py").write_text("print('hello')\n")
    doc = tmp_path / "doc.md"
    doc.write_text("# Doc\n\n<!-- include: example.py -->\n```python\nold\n```\n\n<!-- hooks -->\nold\n<!-- /hooks -->\n")
    assert main(["--check", str(doc)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert main([str(doc)]) == 0
    updated = doc.read_text()
    assert "```python\nprint('hello')\n```" in updated and "### `register_metrics`" in updated
    assert main(["--check", str(doc)]) == 0


def test_the_readme_links_the_guide():
    assert "(docs/writing-plugins.md)" in (ROOT / "README.md").read_text()
