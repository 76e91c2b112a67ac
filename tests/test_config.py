"""Settings: --set overrides, config files, validation and run identity."""

from __future__ import annotations

import pytest

from ganbench import config as cfg
from ganbench.errors import UnknownNameError, UsageError
from ganbench.plugins import build_catalog, create_plugin_manager


@pytest.fixture(scope="module")
def catalog():
    return build_catalog(create_plugin_manager(load_entry_points=False))


def test_set_overrides_a_variant_parameter_and_is_recorded(catalog):
    sweep = cfg.SweepConfig(variants=["wgan-gp", "vanilla"], datasets=["ring-8"])
    cfg.apply_setting(sweep, *cfg.parse_set_option("wgan-gp.lambda_gp=5"), catalog)
    cfg.apply_setting(sweep, *cfg.parse_set_option("vanilla.generator_loss=minimax"), catalog)
    cfg.apply_setting(sweep, *cfg.parse_set_option("train.steps=7"), catalog)
    runs = {run.variant: run for run in cfg.resolve_runs(sweep, catalog)}
    assert runs["wgan-gp"].variant_params["lambda_gp"] == 5.0
    assert runs["wgan-gp"].variant_params["n_critic"] == 5  # the rest resolved from defaults
    assert runs["vanilla"].variant_params["generator_loss"] == "minimax"
    assert runs["vanilla"].steps == 7 and runs["vanilla"].batch_size == 256 and runs["vanilla"].arch == "mlp"


@pytest.mark.parametrize("text,message", [
    ("wgan-gp.lambda_gp=abc", "wgan-gp.lambda_gp must be a number, got 'abc'"),
    ("wgan-gp.n_critic=2.5", "must be an integer"),
    ("wgan-gp.lamda_gp=5", "unknown wgan-gp setting 'lamda_gp'; did you mean 'lambda_gp'? Available: optimizer, lr_g"),
    ("vanilla.generator_loss=hinge", "must be one of 'non-saturating', 'minimax'"),
    ("train.steps=-3", None),
    ("lambda_gp=5", "must look like VARIANT.FIELD"),
    ("nonsense", "--set expects KEY=VALUE"),
])
def test_bad_settings_are_usage_errors(catalog, text, message):
    sweep = cfg.SweepConfig(datasets=["ring-8"])
    with pytest.raises(UsageError) as info:
        cfg.apply_setting(sweep, *cfg.parse_set_option(text), catalog)
        cfg.resolve_runs(sweep, catalog)
    if message:
        assert message in str(info.value)


def test_unknown_variant_in_set_suggests(catalog):
    with pytest.raises(UnknownNameError, match="did you mean 'wgan-gp'"):
        cfg.apply_setting(cfg.SweepConfig(), "wgan_gp.lambda_gp", "5", catalog)


def test_negative_values_are_refused_at_resolution(catalog):
    sweep = cfg.SweepConfig(datasets=["ring-8"])
    sweep.variant_params["wgan-gp"] = {"lambda_gp": -1.0}
    with pytest.raises(UsageError, match="lambda_gp must be a non-negative number"):
        cfg.resolve_runs(sweep, catalog)
    sweep = cfg.SweepConfig(datasets=["ring-8"])
    sweep.train.steps = 0
    with pytest.raises(UsageError, match="steps must be a positive integer"):
        cfg.resolve_runs(sweep, catalog)


def test_seeds_parse_lists_and_ranges():
    assert cfg.parse_seeds("0,1,2") == [0, 1, 2]
    assert cfg.parse_seeds("3-5,1") == [3, 4, 5, 1]
    with pytest.raises(UsageError, match="non-negative integers"):
        cfg.parse_seeds("a,b")
    with pytest.raises(UsageError):
        cfg.parse_seeds("-1")


def test_config_file_and_precedence(tmp_path, catalog):
    path = tmp_path / "sweep.toml"
    path.write_text(
        'variants = ["wgan-gp"]\ndatasets = ["grid-25"]\nseeds = [4, 5]\n'
        "[train]\nsteps = 11\nbatch_size = 32\n[params.wgan-gp]\nlambda_gp = 2.5\n"
    )
    sweep = cfg.SweepConfig()
    cfg.load_config_file(path, sweep, catalog)
    cfg.apply_setting(sweep, "wgan-gp.lambda_gp", "7", catalog)  # the command line wins
    runs = cfg.resolve_runs(sweep, catalog)
    assert [(r.variant, r.dataset, r.seed, r.steps, r.batch_size) for r in runs] == [
        ("wgan-gp", "grid-25", 4, 11, 32), ("wgan-gp", "grid-25", 5, 11, 32)]
    assert runs[0].variant_params["lambda_gp"] == 7.0


@pytest.mark.parametrize("content,message", [
    ("stepz = 3\n", "unknown .*bad.toml setting 'stepz'.* Available: datasets, log, metrics"),
    ("[train]\nsteps = 'many'\n", "train.steps must be an integer"),
    ("variants = 3\n", "must be a list of names"),
    ("[[broken", "not valid TOML"),
])
def test_bad_config_files(tmp_path, catalog, content, message):
    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(UsageError, match=message):
        cfg.load_config_file(path, cfg.SweepConfig(), catalog)


def test_run_identity_changes_with_training_settings_only(catalog):
    sweep = cfg.SweepConfig(variants=["wgan"], datasets=["ring-8"])
    base = cfg.resolve_runs(sweep, catalog)[0]
    sweep.train.eval_samples = 500
    assert cfg.resolve_runs(sweep, catalog)[0].run_id == base.run_id
    cfg.apply_setting(sweep, "wgan.clip_value", "0.02", catalog)
    assert cfg.resolve_runs(sweep, catalog)[0].run_id != base.run_id
    assert cfg.RunConfig.from_dict(base.to_dict()) == base


def test_architecture_is_chosen_from_the_data_shape(catalog):
    assert cfg.choose_architecture(catalog.datasets.get("ring-8"), "auto", catalog) == "mlp"
    assert cfg.choose_architecture(catalog.datasets.get("fashion-mnist"), "auto", catalog) == "mlp"
    assert cfg.choose_architecture(catalog.datasets.get("cifar10"), "auto", catalog) == "dcgan"
    with pytest.raises(UsageError, match="cannot model data set 'ring-8'"):
        cfg.choose_architecture(catalog.datasets.get("ring-8"), "dcgan", catalog)
