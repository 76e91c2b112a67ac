"""``ganbench --help``, ``--version``, ``list`` and ``plugins`` start without importing torch, torchvision,
pandas, matplotlib, scipy or ray.

Checked from what each fresh process really imported, not from timings: ``sys.modules`` at
exit (a lazy stand-in is not there until it is used) and Python's import log
(``PYTHONPROFILEIMPORTTIME``: each module an import statement executed, torch's own submodules
included, however torch itself was reached). Installed plugins are not loaded
(``GANBENCH_LOAD_PLUGINS=""``): a plugin may import torch at its top, which is allowed and
tested below.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from ganbench.lazy import LazyModule, lazy_import
from ganbench.plugins import build_catalog, create_plugin_manager

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "torchvision", "pandas", "matplotlib", "scipy", "ray")
IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\s*$")


def _environment(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "GANBENCH_PLUGINS"}
    env.update(GANBENCH_LOAD_PLUGINS="", PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]),
               COLUMNS="120", **extra)
    return env


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


# Runs the console script's entry point with the command line that follows; at exit, writes the
# modules in sys.modules to the file named first, leaving out stand-ins that importlib's
# LazyLoader put there but nothing loaded yet.
DRIVER = """
import atexit, json, sys

def report(path=sys.argv[1]):
    with open(path, "w") as out:
        json.dump(sorted(name for name, module in sys.modules.items() if type(module).__name__ != "_LazyModule"), out)

atexit.register(report)
from ganbench.cli import app
sys.argv = ["ganbench", *sys.argv[2:]]
app()
"""


def ganbench(tmp_path: Path, *args: str, **env: str) -> tuple[subprocess.CompletedProcess, set[str], set[str]]:
    """Run ``ganbench ARGS`` in a fresh process; also return the modules in ``sys.modules`` at
    its exit and those its import log names (each module that an import statement executed)."""
    report = tmp_path / "modules.json"
    result = subprocess.run([sys.executable, "-c", DRIVER, str(report), *args], capture_output=True, text=True,
                            env=_environment(PYTHONPROFILEIMPORTTIME="1", **env), timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    logged = {m.group(1) for line in result.stderr.splitlines() if (m := IMPORT_LINE.match(line))}
    return result, set(json.loads(report.read_text())), logged


def test_version_imports_no_heavy_library(tmp_path):
    result, modules, logged = ganbench(tmp_path, "--version")
    assert result.stdout.startswith("ganbench ") and "torch " in result.stdout
    assert _heavy(modules) == [] and _heavy(logged) == [], _heavy(modules | logged)[:10]


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["list"], ["list", "variants"], ["plugins"]],
                         ids=" ".join)
def test_the_command_imports_no_heavy_library(tmp_path, args):
    result, modules, logged = ganbench(tmp_path, *args)
    assert "ganbench.architectures.stylegan" in modules and "ganbench.variants" in logged  # both views work
    assert _heavy(modules) == [], f"`ganbench {' '.join(args)}` imported {_heavy(modules)[:10]}"
    assert _heavy(logged) == [], f"`ganbench {' '.join(args)}` imported {_heavy(logged)[:10]}"


def test_listing_every_kind_as_json_imports_no_heavy_library(tmp_path):
    result, modules, logged = ganbench(tmp_path, "list", "--json")
    listed = {row["name"] for rows in json.loads(result.stdout).values() for row in rows}
    assert {"wgan-gp", "fashion-mnist", "fid", "stylegan", "local"} <= listed
    assert _heavy(modules) == [] and _heavy(logged) == []


def test_a_plugin_that_imports_torch_at_its_top_still_works(tmp_path, monkeypatch):
    plugin = tmp_path / "eager_plugin.py"
    plugin.write_text(textwrap.dedent("""
        import torch
        from torch import nn

        import ganbench


        class Doubler(nn.Module):
            def forward(self, x):
                return 2 * x


        class Eager(ganbench.Variant):
            name = "eager"
            description = "Imports torch at its top."

            def discriminator_loss(self, real_scores, fake_scores):
                return torch.nn.functional.softplus(-real_scores).mean()

            def generator_loss(self, fake_scores, real_scores=None):
                return Doubler()(fake_scores).mean()


        @ganbench.hookimpl
        def register_variants(register):
            register(Eager)
    """))
    monkeypatch.setenv("GANBENCH_PLUGINS", str(plugin))
    catalog = build_catalog(create_plugin_manager())
    variant = catalog.variants.get("eager")()
    assert catalog.variants.plugin_of("eager") == str(plugin)
    assert float(variant.generator_loss(torch.ones(3))) == 2.0


def test_a_lazy_module_is_imported_on_first_use_and_forwards_to_it(tmp_path, monkeypatch):
    (tmp_path / "lazy_probe.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "lazy_probe", raising=False)

    probe = lazy_import("lazy_probe")
    assert isinstance(probe, LazyModule) and not isinstance(probe, staticmethod)  # as pluggy checks a plugin's names
    assert pickle.loads(pickle.dumps(probe)).__class__ is LazyModule  # pickled by name
    assert "lazy_probe" not in sys.modules
    assert "not imported yet" in repr(probe)
    assert probe.VALUE == 1 and "lazy_probe" in sys.modules
    real = sys.modules["lazy_probe"]
    assert probe.__dict__ is real.__dict__ and "(imported)" in repr(probe)
    monkeypatch.setattr(probe, "VALUE", 2)  # writes go to the real module, as with `import`
    assert real.VALUE == 2 and probe.VALUE == 2 and "VALUE" in dir(probe)
    monkeypatch.undo()
    assert real.VALUE == 1
    assert lazy_import("json") is json  # an imported module is returned as it is
    with pytest.raises(AttributeError):
        probe.MISSING  # noqa: B018
    del sys.modules["lazy_probe"]


def test_networks_moved_out_of_the_plugin_modules_are_importable_where_they_were():
    from ganbench import architectures
    from ganbench.architectures import layers, stylegan, stylegan_networks

    assert architectures.Reshape is layers.Reshape and architectures.cyclic_labels is layers.cyclic_labels
    assert architectures.SPECTRAL_NORM_LAYERS == layers.SPECTRAL_NORM_LAYERS
    assert stylegan.StyleGenerator is stylegan_networks.StyleGenerator and stylegan.WIDTH == 64
    assert issubclass(architectures.MinibatchStd, torch.nn.Module)
    for module in (architectures, stylegan):
        with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
            module.Nope  # noqa: B018


def test_a_torchvision_data_set_names_its_class_and_finds_it_when_used():
    import torchvision

    from ganbench.datasets.images import CIFAR10, FashionMNIST

    class KMNIST(FashionMNIST):  # a plugin may still give the class itself
        name = "kmnist"
        torchvision_class = torchvision.datasets.KMNIST

    assert FashionMNIST.torchvision_class == "FashionMNIST"  # a name: listing imports no torchvision
    assert FashionMNIST.dataset_class() is torchvision.datasets.FashionMNIST
    assert CIFAR10.dataset_class() is torchvision.datasets.CIFAR10
    assert KMNIST.dataset_class() is torchvision.datasets.KMNIST
    assert KMNIST()._raw(Path("root")) == Path("root/KMNIST/raw")
