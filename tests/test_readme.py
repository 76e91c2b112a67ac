"""The README's plugin example works as written, and its commands match CI."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def block_after(marker: str) -> str:
    match = re.search(rf"<!-- {marker} -->\n```\w*\n(.*?)```", README, re.S)
    assert match, f"README has no code block after <!-- {marker} -->"
    return match.group(1)


def test_plugin_example_runs_as_written(tmp_path, monkeypatch):
    from ganbench.cli import app
    from ganbench.plugins import get_plugin_manager

    (tmp_path / "lsq_plugin.py").write_text(block_after("plugin-example"))
    command = shlex.split(block_after("plugin-command"))
    start = command.index("ganbench")
    env = dict(assignment.split("=", 1) for assignment in command[:start])
    args = command[start + 1:]
    args[args.index("--steps") + 1] = "20"  # the README's budget, shortened for the test
    monkeypatch.chdir(tmp_path)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_plugin_manager.cache_clear()
    try:
        result = CliRunner().invoke(app, args + ["--out", str(tmp_path / "results"), "--quiet",
                                                 "--eval-samples", "200"], catch_exceptions=False)
    finally:
        get_plugin_manager.cache_clear()
    assert result.exit_code == 0, result.output
    assert "| lsq " in result.stdout and "| vanilla " in result.stdout
    config = next((tmp_path / "results" / "default").glob("lsq_*/config.json")).read_text()
    assert '"target_real": 0.9' in config
    history = next((tmp_path / "results" / "default").glob("lsq_*/history.csv")).read_text().splitlines()[0]
    assert "critic_real" in history and "d_real" not in history  # a least-squares score is "raw", not a logit


def test_ci_runs_the_readme_commands():
    ci = (ROOT / ".ci" / "run").read_text()
    setup = re.search(r"```bash\n(python3 -m venv .*?) && \.venv/bin/ganbench run", README).group(1)
    tests = re.search(r"## Run the tests.*?```bash\n(.*?)\n```", README, re.S).group(1)
    assert setup in ci and tests in ci


@pytest.mark.parametrize("name", ["vanilla", "wgan", "wgan-gp", "fashion-mnist", "ring-8", "grid-25",
                                  "gaussian-1d", "mlp", "dcgan", "volatility", "mode-coverage", "w1",
                                  "local", "ray"])
def test_every_builtin_is_documented(name):
    assert f"`{name}`" in README
