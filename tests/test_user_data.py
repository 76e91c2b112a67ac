"""The user's own data: folder:PATH, array:FILE, [datasets.NAME], --resolution, --arch auto."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from conftest import write_idx
from ganbench import config as cfg
from ganbench.cli import app
from ganbench.datasets import StreamingSource, TensorSource
from ganbench.errors import UsageError
from ganbench.plugins import build_catalog, create_plugin_manager
from ganbench.reproduce import reproduce

CPU = torch.device("cpu")


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def image_folder(root: Path, size: int = 8, classes: tuple[str, ...] = ("a", "b"), per_class: int = 6,
                 colour: bool = False) -> Path:
    rng = np.random.default_rng(0)
    for name in classes:
        for i in range(per_class):
            shape = (size, size, 3) if colour else (size, size)
            path = root / name / f"{i}.png" if name else root / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path)
    return root


@pytest.fixture
def catalog():
    return build_catalog(create_plugin_manager(load_entry_points=False))


def sweep(**fields) -> cfg.SweepConfig:
    sweep = cfg.SweepConfig(variants=["vanilla"], metrics=["volatility"], **fields)
    sweep.train.steps = 2
    return sweep


def test_a_folder_becomes_a_labelled_data_set_recorded_in_the_run_config(tmp_path, catalog):
    folder = image_folder(tmp_path / "faces", size=32, colour=True)
    (run,) = cfg.resolve_runs(sweep(datasets=[f"folder:{folder}"]), catalog)
    dataset_cls = catalog.datasets.get(run.dataset)
    assert run.dataset == "folder-faces" and dataset_cls.shape == (3, 32, 32) and dataset_cls.num_classes == 2
    assert run.arch == "dcgan", "--arch auto picks dcgan for 32x32"
    assert run.data["argument"] == str(folder) and len(run.data["content_key"]) == 64
    assert catalog.datasets.plugin_of(run.dataset) == catalog.datasets.plugin_of("folder")
    source = dataset_cls().load(device=CPU, seed=0)
    assert isinstance(source, TensorSource) and source.labels.tolist() == [0] * 6 + [1] * 6
    assert source.describe()["content_key"] == run.data["content_key"]


def test_runs_without_file_data_keep_their_old_digests():
    # computed by the code before data sets from files existed
    run = cfg.RunConfig(variant="wgan-gp", dataset="fashion-mnist", seed=0, arch="mlp", steps=2000,
                        batch_size=128, latent_dim=64, device="cpu", variant_params={"lambda_gp": 10.0})
    assert run.digest() == "0c65e05c09fa0a7c33c6ffd698ce1cf34d112e81aaf0ee8a442c161ccf119a62"
    with_data = cfg.RunConfig(**{**run.__dict__, "data": {"content_key": "x"}})
    assert with_data.digest() != run.digest()
    assert cfg.RunConfig.from_dict(with_data.to_dict()) == with_data


def test_resolution_is_part_of_the_spec_and_the_digest(tmp_path, catalog):
    folder = image_folder(tmp_path / "faces", size=40, classes=("",))
    (native,) = cfg.resolve_runs(_with(sweep(datasets=[f"folder:{folder}"]), arch="mlp"), catalog)
    (small,) = cfg.resolve_runs(_with(sweep(datasets=[f"folder:{folder}"], resolution=32)), build_catalog())
    assert small.data["settings"]["resolution"] == 32 and "bicubic" in small.data["recipe"]
    assert native.data["recipe"].startswith("none") and native.digest() != small.digest()


def _with(sweep_config: cfg.SweepConfig, **train) -> cfg.SweepConfig:
    for name, value in train.items():
        setattr(sweep_config.train, name, value)
    return sweep_config


def test_arch_auto_names_what_can_model_an_odd_size(tmp_path, catalog):
    folder = image_folder(tmp_path / "odd", size=40, classes=("",))
    with pytest.raises(UsageError, match=r"no architecture that fits .*shape \(1, 40, 40\).*mlp can model it "
                                         r"when named \(--arch mlp\).*--resolution .*32 \(dcgan"):
        cfg.resolve_runs(sweep(datasets=[f"folder:{folder}"]), catalog)


def test_unlabelled_folder_refuses_cgan_and_skips_label_metrics(tmp_path, catalog):
    folder = image_folder(tmp_path / "flat", size=32, classes=("",))
    with pytest.raises(UsageError, match="'cgan' is class-conditional, but data set 'folder-flat' has no labels"):
        cfg.resolve_runs(cfg.SweepConfig(variants=["cgan"], datasets=[f"folder:{folder}"]), catalog)
    (run,) = cfg.resolve_runs(cfg.SweepConfig(variants=["vanilla"], datasets=[f"folder:{folder}"]), catalog)
    assert "class-coverage" not in run.metrics and "volatility" in run.metrics


def test_array_data_set_and_bare_factory_name(tmp_path, catalog):
    np.savez(tmp_path / "digits.npz", images=np.zeros((5, 28, 28, 1), np.uint8), labels=np.arange(5))
    (run,) = cfg.resolve_runs(sweep(datasets=[f"array:{tmp_path / 'digits.npz'}"]), catalog)
    assert run.dataset == "array-digits" and catalog.datasets.get(run.dataset).num_classes == 5
    with pytest.raises(UsageError, match=r"needs an argument: --datasets folder:PATH"):
        cfg.resolve_runs(sweep(datasets=["folder"]), catalog)
    with pytest.raises(UsageError, match="is not a .npy or .npz file"):
        cfg.resolve_runs(sweep(datasets=[f"array:{tmp_path}"]), catalog)
    with pytest.raises(UsageError, match="takes no argument"):
        cfg.resolve_runs(sweep(datasets=["ring-8:x"]), catalog)
    with pytest.raises(UsageError, match="resolution 32 applies to data sets made from files"):
        cfg.resolve_runs(sweep(datasets=["ring-8"], resolution=32), catalog)


def test_large_user_data_streams_from_the_cache(tmp_path, catalog, monkeypatch):
    folder = image_folder(tmp_path / "faces", size=8)
    (run,) = cfg.resolve_runs(_with(sweep(datasets=[f"folder:{folder}"]), arch="mlp"), catalog)
    monkeypatch.setenv("GANBENCH_MAX_IN_MEMORY_MB", "0")
    source = catalog.datasets.get(run.dataset)().load(device=CPU, seed=0)
    assert isinstance(source, StreamingSource)
    images, labels = source.sample_with_labels(4)
    assert images.shape == (4, 1, 8, 8) and images.min() >= -1 and images.max() <= 1
    assert set(labels.tolist()) <= {0, 1}


def test_named_data_sets_in_a_config_file_are_listed_and_trained_under_their_name(tmp_path):
    folder = image_folder(tmp_path / "pics", size=16)
    config = tmp_path / "sweep.toml"
    config.write_text(f'variants = ["vanilla"]\nmetrics = ["volatility"]\n[train]\nsteps = 2\narch = "mlp"\n'
                      f'[datasets.faces]\npath = "{folder}"\nresolution = 8\n')
    listing = json.loads(invoke("list", "datasets", "--json", "--config", str(config)).stdout)["datasets"]
    faces = next(row for row in listing if row["name"] == "faces")
    assert faces["defaults"]["shape"] == [1, 8, 8] and faces["defaults"]["classes"] == 2
    result = invoke("run", "--config", str(config), "--out", str(tmp_path / "out"), "--quiet")
    assert result.exit_code == 0, result.output
    assert "## faces" in result.stdout and f"data set faces: folder:{folder}" in " ".join(result.stderr.split())
    assert (tmp_path / "out" / "default" / "table-faces.md").is_file()


@pytest.mark.parametrize("make, message", [
    (lambda d: (d / "x.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken"), "x.png cannot be read"),
    (lambda d: None, "holds no image files"),
    (lambda d: image_folder(d, size=8, classes=("a",)) and image_folder(d, size=9, classes=("b",)),
     "give a resolution (--resolution N"),
])
def test_bad_folders_exit_2_with_one_line_and_record_nothing(tmp_path, make, message):
    folder = tmp_path / "bad"
    folder.mkdir()
    make(folder)
    result = invoke("run", "--variants", "vanilla", "--datasets", f"folder:{folder}", "--steps", "2",
                    "--out", str(tmp_path / "out"), "--quiet")
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split()) and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_a_float_array_exits_2(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((4, 8, 8), np.float32))
    result = invoke("run", "--datasets", f"array:{tmp_path / 'x.npy'}", "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "dtype float32; expected uint8" in result.stderr


def test_truncated_data_root_exits_1_before_training_naming_the_file(tmp_path, monkeypatch):
    from ganbench.datasets import images

    monkeypatch.setattr(images.FashionMNIST, "debian_dir", write_idx(tmp_path / "debian", count=8))
    folder = write_idx(tmp_path / "mine", count=16, compress=False)
    data = (folder / "train-images-idx3-ubyte").read_bytes()
    (folder / "train-images-idx3-ubyte").write_bytes(data[:-28])
    result = invoke("run", "--variants", "vanilla", "--steps", "2", "--metrics", "volatility",
                    "--data-root", str(folder), "--out", str(tmp_path / "out"), "--quiet")
    assert result.exit_code == 1, result.output
    assert "train-images-idx3-ubyte is truncated" in " ".join(result.stderr.split())
    assert "Traceback" not in result.output
    assert not list((tmp_path / "out").glob("*/*/metrics.json"))


def _run_on_a_tiny_folder(tmp_path: Path) -> tuple[Path, Path]:
    """A 2-step run on a folder of 6 tiny images: (the folder, the run folder)."""
    folder = image_folder(tmp_path / "faces", size=8, per_class=3)
    result = invoke("run", "--variants", "vanilla", "--datasets", f"folder:{folder}", "--arch", "mlp",
                    "--steps", "2", "--metrics", "volatility", "--out", str(tmp_path / "out"), "--quiet")
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "out" / "default").glob("vanilla_folder-faces_*")
    return folder, run_dir


def test_reproduce_refuses_a_folder_whose_content_changed(tmp_path):
    folder, run_dir = _run_on_a_tiny_folder(tmp_path)
    assert reproduce(run_dir, build_catalog()).matches
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(folder / "a" / "0.png")
    with pytest.raises(UsageError, match=f"the content of {folder} changed since the run was recorded"):
        reproduce(run_dir, build_catalog())
    refused = invoke("reproduce", str(run_dir))
    assert refused.exit_code == 2 and "restore the recorded files" in refused.stderr


def test_reproduce_reads_moved_data_from_data_name_path_only_if_their_content_is_the_recorded_one(tmp_path):
    folder, run_dir = _run_on_a_tiny_folder(tmp_path)
    moved = folder.rename(tmp_path / "elsewhere")  # moved, renamed: the data set keeps its recorded name

    missing = invoke("reproduce", str(run_dir))
    said = " ".join(missing.stderr.split())
    assert missing.exit_code == 2 and "Traceback" not in missing.output
    assert f"read data set 'folder-faces' from {folder}, which does not exist here" in said
    assert "pass --data folder-faces=NEW-PATH" in said

    kept = tmp_path / "rerun"
    found = invoke("reproduce", str(run_dir), "--data", f"folder-faces={moved}", "--keep", str(kept))
    assert found.exit_code == 0, found.output
    verdict = found.stdout.splitlines()[0]
    assert verdict.startswith("reproduced: losses (2 steps)") and verdict.endswith("identical (bit for bit)")
    assert f"note: data set 'folder-faces' read from {moved} (recorded at {folder}; same content key" in found.stdout
    assert "data set description differs" not in found.stdout
    rerun = json.loads((kept / "config.json").read_text())
    assert rerun["config"]["data"]["argument"] == str(moved), "the re-run records where it read the data"
    assert json.loads((kept / "metrics.json").read_text())["data"]["source"] == f"folder:{moved}"

    other = image_folder(tmp_path / "other", size=8, per_class=3)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(other / "a" / "0.png")
    differs = invoke("reproduce", str(run_dir), "--data", f"folder-faces={other}")
    said = " ".join(differs.stderr.split())
    assert differs.exit_code == 2 and "Traceback" not in differs.output
    assert f"the data at {other} differ from those of data set 'folder-faces' that the run was recorded with" in said
    assert f"from {folder}): name a copy of the recorded files" in said

    wrong_name = invoke("reproduce", str(run_dir), "--data", f"faces={moved}")
    assert wrong_name.exit_code == 2
    assert "--data faces=... names a data set that run" in wrong_name.stderr
    assert "its data set made from files is 'folder-faces'" in " ".join(wrong_name.stderr.split())
    for bad in ("folder-faces", f"={moved}", "folder-faces="):
        refused = invoke("reproduce", str(run_dir), "--data", bad)
        assert refused.exit_code == 2 and "--data expects NAME=PATH" in refused.stderr, bad
    gone = invoke("reproduce", str(run_dir), "--data", f"folder-faces={tmp_path / 'nowhere'}")
    assert gone.exit_code == 2 and f"{tmp_path / 'nowhere'} does not exist" in " ".join(gone.stderr.split())
    record = json.loads((run_dir / "config.json").read_text())
    record["config"]["data"]["argument"] = str(tmp_path / "another")
    (run_dir / "config.json").write_text(json.dumps(record))
    edited = invoke("reproduce", str(run_dir), "--data", f"folder-faces={moved}")
    assert edited.exit_code == 2 and "config.json was edited" in " ".join(edited.stderr.split())


def test_the_data_source_is_printed_before_training(tmp_path, monkeypatch):
    from ganbench.datasets import images

    monkeypatch.setattr(images.FashionMNIST, "debian_dir", write_idx(tmp_path / "debian", count=8))
    folder = write_idx(tmp_path / "mine", count=16)
    result = invoke("run", "--variants", "vanilla", "--steps", "1", "--batch-size", "8", "--metrics", "volatility",
                    "--data-root", str(folder), "--out", str(tmp_path / "out"), "--quiet")
    assert result.exit_code == 0, result.output
    assert f"data set fashion-mnist: --data-root: {folder}" in " ".join(result.stderr.split())
