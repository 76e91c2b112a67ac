"""The plugin system: registration, conflicts, suggestions, entry points, listing."""

from __future__ import annotations

import sys
import warnings
from importlib.metadata import EntryPoint

import pytest

import ganbench
from ganbench import hookspecs
from ganbench.errors import PluginConflictError, UnknownNameError
from ganbench.plugins import (
    DEFAULT_PLUGINS, PluginHookWarning, PluginLoadWarning, build_catalog, create_plugin_manager, plugin_report,
)
from ganbench.variants.vanilla import Vanilla


def test_hookimpl_is_importable_from_the_package_root():
    assert ganbench.hookimpl is hookspecs.hookimpl


def test_every_hook_has_a_documented_parameter():
    for name in ("register_variants", "register_datasets", "register_metrics",
                 "register_architectures", "register_executors", "register_commands"):
        doc = getattr(hookspecs, name).__doc__
        assert doc and ":param" in doc, name


def test_builtins_register_through_the_hooks():
    pm = create_plugin_manager(load_entry_points=False)
    catalog = build_catalog(pm)
    assert {"vanilla", "wgan", "wgan-gp"} <= set(catalog.variants.names())
    assert {"gaussian-1d", "ring-8", "grid-25", "fashion-mnist", "mnist", "cifar10"} <= set(catalog.datasets.names())
    assert {"mlp", "dcgan"} <= set(catalog.architectures.names())
    assert catalog.variants.plugin_of("wgan-gp") == "ganbench.variants.wgan_gp"
    assert {name for name, _ in pm.list_name_plugin()} >= set(DEFAULT_PLUGINS)


class Duplicate(Vanilla):
    name = "vanilla"


class DuplicatePlugin:
    @staticmethod
    @ganbench.hookimpl
    def register_variants(register):
        register(Duplicate)


def test_duplicate_names_fail_naming_both_plugins():
    pm = create_plugin_manager(load_entry_points=False)
    pm.register(DuplicatePlugin, name="my-duplicate")
    with pytest.raises(PluginConflictError) as info:
        build_catalog(pm)
    message = str(info.value)
    assert "'vanilla'" in message and "ganbench.variants.vanilla" in message and "my-duplicate" in message


class NotAVariant:
    name = "broken"


class Mine(Vanilla):
    name = "mine"


def _hook_warnings(pm):
    """Build the catalog of ``pm``; return it and the :class:`PluginHookWarning` messages."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        catalog = build_catalog(pm)
    return catalog, [str(w.message) for w in caught if issubclass(w.category, PluginHookWarning)]


def _raise(register):
    register(Mine)
    raise RuntimeError("boom")


def _exit(register):
    register(Mine)
    sys.exit(3)


def _return_a_list(register):
    return [Mine]


def _register_bad(registered):
    def hook(register):
        register(Mine)  # valid, but dropped with the invalid one: a hook's registrations go together
        register(registered)
    return hook


@pytest.mark.parametrize("hook,reason", [
    (_raise, "its register_variants hook raised RuntimeError: boom"),
    (_exit, "its register_variants hook exited (SystemExit 3)"),
    (_return_a_list, "its register_variants hook returned a list instead of calling register(cls)"),
    (_register_bad(NotAVariant), "must be a subclass of ganbench.variants.Variant"),
    (_register_bad("ring-9"), "registered 'ring-9' as a variant, but a variant must be a subclass"),
    (_register_bad(type("Bad", (Vanilla,), {"name": "Bad Name"})), "invalid name 'Bad Name'"),
    (_register_bad(type("Reserved", (Vanilla,), {"name": "train"})), "invalid name 'train'"),
])
def test_a_faulty_hook_warns_once_and_its_contributions_are_dropped(hook, reason):
    plugin = type("Faulty", (), {"register_variants": staticmethod(ganbench.hookimpl(hook))})
    pm = create_plugin_manager(load_entry_points=False)
    pm.register(plugin, name="faulty-plugin")
    catalog, messages = _hook_warnings(pm)
    assert len(messages) == 1
    assert "'faulty-plugin'" in messages[0] and reason in messages[0]
    assert "mine" not in catalog.variants
    assert "vanilla" in catalog.variants and "ring-8" in catalog.datasets  # the rest is intact


def test_misspelt_hook_fails_loudly():
    class Misspelt:
        @staticmethod
        @ganbench.hookimpl
        def register_variant(register):
            pass

    pm = create_plugin_manager(load_entry_points=False)
    pm.register(Misspelt)
    from pluggy import PluginValidationError

    with pytest.raises(PluginValidationError):
        pm.check_pending()


def test_unknown_name_suggests_the_closest():
    catalog = build_catalog(create_plugin_manager(load_entry_points=False))
    with pytest.raises(UnknownNameError) as info:
        catalog.variants.get("wgan_gp")
    message = str(info.value)
    assert message.startswith("unknown variant 'wgan_gp'; did you mean 'wgan-gp'?")
    assert "Available: cgan, cyclegan, dcgan, ebgan, hinge, lsgan, r1, ragan, rsgan, vanilla, wgan, wgan-gp" in message
    with pytest.raises(UnknownNameError, match="unknown dataset 'zzz'. Available: "):
        catalog.datasets.get("zzz")


def _fake_entry_points(monkeypatch, *eps: EntryPoint):
    import ganbench.plugins as plugins_module

    monkeypatch.setattr(plugins_module, "entry_points", lambda group: list(eps) if group == "ganbench" else [])


def test_entry_point_plugins_are_loaded(monkeypatch, tmp_path):
    module = tmp_path / "ep_plugin_ok.py"
    module.write_text(
        "import ganbench\n"
        "from ganbench.variants.vanilla import Vanilla\n"
        "class Mine(Vanilla):\n    name = 'mine'\n"
        "@ganbench.hookimpl\ndef register_variants(register):\n    register(Mine)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    _fake_entry_points(monkeypatch, EntryPoint("mine", "ep_plugin_ok", "ganbench"))
    monkeypatch.delenv("GANBENCH_LOAD_PLUGINS")
    catalog = build_catalog(create_plugin_manager())
    assert catalog.variants.plugin_of("mine") == "mine"
    # GANBENCH_LOAD_PLUGINS restricts which entry points load.
    monkeypatch.setenv("GANBENCH_LOAD_PLUGINS", "someone-else")
    assert "mine" not in build_catalog(create_plugin_manager()).variants


def test_a_plugin_that_fails_to_import_warns_once_and_the_rest_works(monkeypatch):
    _fake_entry_points(monkeypatch, EntryPoint("broken", "no_such_module_for_ganbench", "ganbench"))
    monkeypatch.delenv("GANBENCH_LOAD_PLUGINS")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pm = create_plugin_manager()
    relevant = [w for w in caught if issubclass(w.category, PluginLoadWarning)]
    assert len(relevant) == 1
    assert "'broken'" in str(relevant[0].message) and "ModuleNotFoundError" in str(relevant[0].message)
    assert "vanilla" in build_catalog(pm).variants
    assert "no_such_module_for_ganbench" not in sys.modules


def test_a_plugin_with_a_misspelt_hook_is_skipped_with_a_suggestion(monkeypatch, tmp_path):
    (tmp_path / "ep_plugin_typo.py").write_text(
        "import ganbench\n"
        "from ganbench.variants.vanilla import Vanilla\n"
        "class Typo(Vanilla):\n    name = 'typo'\n"
        "@ganbench.hookimpl\ndef register_variant(register):\n    register(Typo)\n"
        "@ganbench.hookimpl\ndef register_metrics(register):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    _fake_entry_points(monkeypatch, EntryPoint("typo", "ep_plugin_typo", "ganbench"))
    monkeypatch.delenv("GANBENCH_LOAD_PLUGINS")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pm = create_plugin_manager()
    [warning] = [w for w in caught if issubclass(w.category, PluginLoadWarning)]
    message = str(warning.message)
    assert "'typo'" in message and "'register_variant' (did you mean 'register_variants'?)" in message
    assert pm.get_plugin("typo") is None  # refused whole: its correct hooks are not half-registered
    assert "vanilla" in build_catalog(pm).variants and "typo" not in build_catalog(pm).variants


def test_plugin_report_lists_hooks(test_plugin):
    rows = {row["name"]: row for row in plugin_report()}
    assert rows["ganbench.variants.wgan"]["hooks"] == ["register_variants"]
    assert rows["ganbench.variants.wgan"]["package"] == "ganbench (built-in)"
    assert rows["test-plugin"]["hooks"] == ["register_metrics", "register_variants"]


def test_what_a_metric_plugin_raises_to_skip_itself_is_public():
    from ganbench.metrics import MetricSkipped

    assert ganbench.MetricSkipped is MetricSkipped and "MetricSkipped" in ganbench.__all__
