"""FID Inception features: agreement with torch-fidelity and pytorch-fid, the TF1 resize, and
the weight file look-up. Runs on the CPU with random weights and a handful of small images."""

from __future__ import annotations

import hashlib
import urllib.error
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from ganbench.errors import UsageError, WeightsUnavailableError
from ganbench.features import inception
from ganbench.features.inception import (
    FIDInceptionV3, InceptionFeatures, find_inception_weights, resize_bilinear_tf1,
)

TOLERANCE = 1e-4  # absolute, on features and logits


def random_state_dict(seed: int = 0) -> dict[str, Tensor]:
    """Random weights whose activations neither vanish nor explode.

    He-initialised convolutions; BatchNorm running statistics and affine parameters moved
    away from the identity; a large classifier bias, so that logits and unbiased logits differ.
    """
    torch.manual_seed(seed)
    network = FIDInceptionV3()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu", generator=generator)
            elif isinstance(module, nn.BatchNorm2d):
                module.running_mean.normal_(0.0, 0.1, generator=generator)
                module.running_var.uniform_(0.5, 1.5, generator=generator)
                module.weight.uniform_(0.8, 1.2, generator=generator)
                module.bias.normal_(0.0, 0.1, generator=generator)
        network.fc.bias.normal_(0.0, 1.0, generator=generator)
    return {key: value.clone() for key, value in network.state_dict().items()}


@pytest.fixture(scope="module")
def state_dict() -> dict[str, Tensor]:
    return random_state_dict()


@pytest.fixture(scope="module")
def weights_file(state_dict, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("inception") / "random-inception.pth"
    torch.save(state_dict, path)
    return path


@pytest.fixture(scope="module")
def pixels() -> dict[str, Tensor]:
    """uint8 test images: two 28×28 grey ones and two 32×32 colour ones."""
    generator = torch.Generator().manual_seed(1)
    return {
        "grey": torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8, generator=generator),
        "colour": torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8, generator=generator),
    }


def as_rgb(images: Tensor) -> Tensor:
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


@pytest.fixture(scope="module")
def ours(state_dict, pixels) -> dict[str, dict[str, dict[str, Tensor]]]:
    """ganbench's outputs per pipeline and image kind; grey images go in as floats in [-1, 1]."""
    results = {}
    for pipeline in inception.PIPELINES:
        extractor = InceptionFeatures.from_state_dict(state_dict, pipeline=pipeline)
        results[pipeline] = {
            "grey": extractor.extract(pixels["grey"].float() / 127.5 - 1),
            "colour": extractor.extract(pixels["colour"]),
        }
    return results


@pytest.fixture(scope="module")
def torch_fidelity_reference(weights_file) -> nn.Module:
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    return FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased", "logits"],
                                       feature_extractor_weights_path=str(weights_file))


@pytest.fixture(scope="module")
def torch_fidelity_outputs(torch_fidelity_reference, pixels) -> dict[str, dict[str, Tensor]]:
    names = torch_fidelity_reference.features_list
    with torch.no_grad():
        return {kind: dict(zip(names, torch_fidelity_reference(as_rgb(images))))
                for kind, images in pixels.items()}


@pytest.fixture(scope="module")
def pytorch_fid_outputs(state_dict, pixels) -> dict[str, Tensor]:
    import pytorch_fid.inception

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pytorch_fid.inception, "load_state_dict_from_url",
                      lambda *args, **kwargs: state_dict)
        reference = pytorch_fid.inception.InceptionV3(
            [3], resize_input=True, normalize_input=True, use_fid_inception=True).eval()
    with torch.no_grad():
        # What pytorch-fid's data loader gives: ToTensor's uint8 / 255 floats.
        return {kind: reference(as_rgb(images).float() / 255)[0].flatten(1)
                for kind, images in pixels.items()}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One intra-op thread. On a busy 2-core machine OpenMP's threads wait for time slices at
    each of the network's ~400 operations, which makes a forward pass several times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def no_network(tmp_path, monkeypatch):
    """A private torch hub folder, no $GANBENCH_INCEPTION_WEIGHTS, and downloads that fail."""
    def refuse(url, dst, *args, **kwargs):
        raise urllib.error.URLError("tests do not use the network")

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.delenv(inception.ENV_VAR, raising=False)


def max_difference(a: Tensor, b: Tensor) -> float:
    assert a.shape == b.shape
    return (a.double() - b.double()).abs().max().item()


# --- the network and its agreement with the references --------------------------------------

def test_state_dict_has_the_weight_files_layout(state_dict, torch_fidelity_reference):
    # torch-fidelity and pytorch-fid both load the file strictly: same names, same shapes.
    def layout(tensors):
        return {key: tuple(value.shape) for key, value in tensors.items()}

    assert layout(state_dict) == layout(torch_fidelity_reference.state_dict())
    assert layout(state_dict)["fc.weight"] == (1008, 2048)


@pytest.mark.parametrize("kind", ["grey", "colour"])
def test_tf_pipeline_matches_torch_fidelity(ours, torch_fidelity_outputs, kind):
    got, expected = ours["tf"][kind], torch_fidelity_outputs[kind]
    assert got["features"].dtype == torch.float64 and got["features"].device.type == "cpu"
    assert max_difference(got["features"], expected["2048"]) < TOLERANCE
    assert max_difference(got["logits_unbiased"], expected["logits_unbiased"]) < TOLERANCE
    assert max_difference(got["logits"], expected["logits"]) < TOLERANCE
    assert max_difference(got["logits"], got["logits_unbiased"]) > 0.1  # the bias matters


@pytest.mark.parametrize("kind", ["grey", "colour"])
def test_pytorch_fid_pipeline_matches_pytorch_fid(ours, pytorch_fid_outputs, kind):
    assert max_difference(ours["pytorch-fid"][kind]["features"], pytorch_fid_outputs[kind]) < TOLERANCE


def test_pipelines_differ(ours):
    # Different resizes and scalings: the choice of pipeline is visible in the features.
    assert max_difference(ours["tf"]["colour"]["features"],
                          ours["pytorch-fid"]["colour"]["features"]) > 10 * TOLERANCE


def test_extract_outputs_and_batching(state_dict, pixels, ours):
    extractor = InceptionFeatures.from_state_dict(state_dict, pipeline="tf", batch_size=1)
    result = extractor.extract(pixels["grey"])  # uint8 pixels: the same as the floats
    expected = ours["tf"]["grey"]
    assert set(result) == {"features", "logits", "logits_unbiased"}
    assert result["features"].shape == (2, 2048) and result["logits"].shape == (2, 1008)
    assert all(value.dtype == torch.float64 for value in result.values())
    for key in result:
        assert max_difference(result[key], expected[key]) < TOLERANCE
    empty = extractor.extract(pixels["grey"][:0])
    assert empty["features"].shape == (0, 2048) and empty["logits"].shape == (0, 1008)


def test_folded_batch_norms_compute_the_same_function(state_dict, pixels):
    network = FIDInceptionV3()
    network.load_state_dict(state_dict)
    network.eval()
    inputs = inception.preprocess(pixels["colour"])
    with torch.inference_mode():
        expected = network(inputs)["pool"]
        inception.fold_batch_norms(network)
        got = network(inputs)["pool"]
    assert not any(isinstance(m, nn.BatchNorm2d) for m in network.modules())
    assert torch.allclose(got, expected, rtol=0, atol=TOLERANCE)
    assert (got - expected).abs().max() > 0  # really another computation: the cache key says so


def test_name_and_cache_key(state_dict):
    extractor = InceptionFeatures.from_state_dict(state_dict, pipeline="pytorch-fid")
    assert extractor.name == "inception-pytorch-fid"
    key = extractor.cache_key()
    assert key == {"network": "fid-inception-2015-12-05", "pipeline": "pytorch-fid", "version": 3,
                   "weights_sha256": inception.state_dict_sha256(state_dict)}
    changed = dict(state_dict, **{"fc.bias": state_dict["fc.bias"] + 1})
    assert inception.state_dict_sha256(changed) != key["weights_sha256"]
    assert all(p.dtype == torch.float32 and not p.requires_grad for p in extractor.network.parameters())


def test_constructor_loads_and_hashes_the_file(weights_file, monkeypatch):
    sha = hashlib.sha256(weights_file.read_bytes()).hexdigest()
    monkeypatch.setattr(inception, "SHA256_PREFIX", sha[:8])
    extractor = InceptionFeatures(pipeline="tf", weights=weights_file, batch_size=8)
    assert extractor.name == "inception-tf"
    assert extractor.cache_key()["weights_sha256"] == sha


def test_constructor_rejects_bad_arguments(state_dict):
    with pytest.raises(UsageError, match="'tf', 'pytorch-fid'"):
        InceptionFeatures(pipeline="clean-fid")  # before any weights look-up
    with pytest.raises(UsageError, match="batch size"):
        InceptionFeatures.from_state_dict(state_dict, batch_size=0)


def test_extract_rejects_bad_images(state_dict):
    extractor = InceptionFeatures.from_state_dict(state_dict)
    with pytest.raises(ValueError, match="N×1×H×W or N×3×H×W"):
        extractor.extract(torch.zeros(1, 2, 8, 8))
    with pytest.raises(ValueError, match="uint8"):
        extractor.extract(torch.zeros(1, 3, 8, 8, dtype=torch.int64))


# --- the TensorFlow-1 resize ------------------------------------------------------------------

@pytest.mark.parametrize("in_size,out_size", [
    ((28, 28), (299, 299)), ((32, 32), (299, 299)), ((17, 40), (299, 299)),
    ((400, 350), (299, 299)), ((5, 7), (13, 4)), ((299, 299), (299, 299)),
])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_tf1_resize_matches_torch_fidelity(in_size, out_size, dtype):
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    images = torch.rand(2, 3, *in_size, generator=torch.Generator().manual_seed(0)).to(dtype) * 255
    got = resize_bilinear_tf1(images, out_size)
    expected = interpolate_bilinear_2d_like_tensorflow1x(images, size=out_size, align_corners=False)
    assert got.dtype == dtype and got.shape == (2, 3, *out_size)
    assert max_difference(got, expected) <= 1e-9


def test_tf1_resize_samples_without_half_pixel_offset():
    # Output pixel i samples input position i * in/out: a 2× upsampling repeats the last pixel.
    row = torch.tensor([[[[0.0, 10.0]]]])
    assert resize_bilinear_tf1(row, (1, 4)).flatten().tolist() == [0.0, 5.0, 10.0, 10.0]


# --- the weight file look-up ------------------------------------------------------------------

def hub_file() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / inception.FILE_NAME


def write(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


@pytest.fixture
def accepted(monkeypatch) -> bytes:
    """Content that passes the hash check (the expected prefix is patched to its hash's)."""
    content = b"stand-in for the Inception weights"
    monkeypatch.setattr(inception, "SHA256_PREFIX", hashlib.sha256(content).hexdigest()[:8])
    return content


def test_look_up_order(tmp_path, monkeypatch, accepted):
    explicit = write(tmp_path / "explicit.pth", accepted)
    from_env = write(tmp_path / "env.pth", accepted)
    cached = write(hub_file(), accepted)
    monkeypatch.setenv(inception.ENV_VAR, str(from_env))
    assert find_inception_weights(explicit) == explicit
    assert find_inception_weights(str(explicit)) == explicit
    assert find_inception_weights() == from_env
    monkeypatch.delenv(inception.ENV_VAR)
    assert find_inception_weights() == cached


def test_download_goes_into_the_hub_cache(monkeypatch, accepted):
    calls = []

    def fake_download(url, dst, hash_prefix=None, progress=True):
        calls.append((url, hash_prefix))
        write(Path(dst), accepted)

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    assert find_inception_weights() == hub_file()
    assert calls == [(inception.WEIGHTS_URL, inception.SHA256_PREFIX)]
    assert find_inception_weights() == hub_file() and len(calls) == 1  # now cached


@pytest.mark.parametrize("where", ["explicit", "env", "hub cache"])
def test_wrong_hash_is_an_error_naming_the_file(tmp_path, monkeypatch, where):
    path = hub_file() if where == "hub cache" else tmp_path / f"{where}.pth"
    write(path, b"not the Inception weights")
    if where == "env":
        monkeypatch.setenv(inception.ENV_VAR, str(path))
    found = hashlib.sha256(b"not the Inception weights").hexdigest()[:8]
    with pytest.raises(WeightsUnavailableError) as error:
        find_inception_weights(path if where == "explicit" else None)
    message = str(error.value)
    assert str(path) in message and "6726825d" in message and found in message


def test_missing_explicit_file_is_an_error(tmp_path, monkeypatch):
    with pytest.raises(WeightsUnavailableError, match="--inception-weights.*does not exist"):
        find_inception_weights(tmp_path / "nowhere.pth")
    monkeypatch.setenv(inception.ENV_VAR, str(tmp_path / "nowhere.pth"))
    with pytest.raises(WeightsUnavailableError, match=f"{inception.ENV_VAR}.*does not exist"):
        find_inception_weights()


def test_nothing_available_lists_what_was_tried_and_the_remedies():
    with pytest.raises(WeightsUnavailableError) as error:
        find_inception_weights()
    message = str(error.value)
    for expected in ("--inception-weights PATH", inception.ENV_VAR, str(hub_file().parent),
                     "internet", inception.WEIGHTS_URL, "URLError", "tests do not use the network"):
        assert expected in message, expected
    assert not hub_file().exists()


def test_expected_hash_prefix_is_the_one_in_the_file_name():
    assert inception.SHA256_PREFIX in inception.FILE_NAME
    assert inception.WEIGHTS_URL.endswith("/" + inception.FILE_NAME)
