from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis.extra.numpy import arrays

from gongzhi.modules.pv.analytics.classifier import (
    INPUT_SHAPE,
    MODEL_RESOURCE,
    NO_ANOMALY,
    ClassifierResult,
    CropClassifier,
    class_names,
    classify,
    default_model,
    flip_views,
    input_channels,
    model_from_arrays,
    parameter_count,
    resize_crops,
    shipped_model_arrays,
)

# ../shared/data/ism beside the checkout; GONGZHI_ISM_DATA names another directory (e.g. from a worktree).
ISM_SPLIT = (
    Path(os.environ.get("GONGZHI_ISM_DATA") or Path(__file__).resolve().parents[3].parent / "shared/data/ism")
    / "ism_train.npz"
)
CLASSES = {
    "Cell",
    "Cell-Multi",
    "Cracking",
    "Diode",
    "Diode-Multi",
    "Hot-Spot",
    "Hot-Spot-Multi",
    "No-Anomaly",
    "Offline-Module",
    "Shadowing",
    "Soiling",
    "Vegetation",
}


@pytest.fixture(scope="module")
def model() -> CropClassifier:
    return default_model()


@pytest.fixture(scope="module")
def crops() -> np.ndarray:
    rng = np.random.default_rng(1)
    base = rng.normal(150, 12, (6, *INPUT_SHAPE))
    base[1, 5:9, 3:7] += 60  # a hot cell
    base[2, :13, :] += 25  # a hot third of the module
    return np.clip(base, 0, 255).astype(np.uint8)


def test_it_ships_a_small_model_with_the_twelve_classes(model: CropClassifier) -> None:
    size = resources.files("gongzhi.modules.pv").joinpath(MODEL_RESOURCE).read_bytes()
    assert len(size) <= 5 * 1024 * 1024
    assert set(model.class_names) == CLASSES
    assert class_names() == model.class_names == tuple(sorted(CLASSES))
    assert model.networks
    assert 10_000 < parameter_count(model) < 1_300_000


def test_it_gives_one_probability_row_per_crop_summing_to_one(crops: np.ndarray) -> None:
    result = classify(crops)
    p = result.probabilities
    assert p.shape == (len(crops), 12)
    assert p.dtype == np.float32
    assert np.all((p >= 0) & (p <= 1))
    np.testing.assert_allclose(p.sum(axis=1), 1, atol=1e-5)
    assert len(result.labels) == len(crops)
    assert set(result.labels) <= CLASSES
    np.testing.assert_array_equal(result.confidence, p.max(axis=1))


def test_its_anomaly_score_is_one_minus_the_nominal_probability(crops: np.ndarray) -> None:
    result = classify(crops)
    nominal = result.class_names.index(NO_ANOMALY)
    np.testing.assert_allclose(result.anomaly_score, 1 - result.probabilities[:, nominal], atol=1e-7)
    np.testing.assert_array_equal(result.is_anomaly(0.0), np.ones(len(crops), dtype=bool))
    np.testing.assert_array_equal(result.is_anomaly(0.3), result.anomaly_score >= 0.3)


def test_it_reproduces_the_torch_outputs_stored_with_the_weights(model: CropClassifier) -> None:
    arrays = shipped_model_arrays()
    reference = arrays["reference_crops"]
    assert reference.dtype == np.uint8
    assert reference.shape[1:] == INPUT_SHAPE
    expected = cast(npt.NDArray[np.floating[Any]], arrays["reference_proba"])  # the torch outputs: floats
    np.testing.assert_allclose(model.predict_proba(reference), expected, atol=1e-4, rtol=0)


def test_it_runs_without_torch() -> None:
    code = (
        "import sys, numpy as np\n"
        "sys.modules['torch'] = None  # any import of torch now fails\n"
        "from gongzhi.modules.pv.analytics.classifier import classify\n"
        "r = classify(np.zeros((2, 40, 24), np.uint8))\n"
        "assert r.probabilities.shape == (2, 12)\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def model_card() -> dict[str, Any]:
    path = resources.files("gongzhi.modules.pv").joinpath(MODEL_RESOURCE.replace(".npz", ".json"))
    card: dict[str, Any] = json.loads(path.read_text())
    return card


def test_its_model_card_describes_the_shipped_file(model: CropClassifier) -> None:
    card = model_card()
    data = resources.files("gongzhi.modules.pv").joinpath(MODEL_RESOURCE).read_bytes()
    assert card["file_bytes"] == len(data)
    assert card["parameters"] == parameter_count(model)
    assert card["numpy_vs_torch_max_abs_diff"] <= 1e-4
    cv = card["cross_validation"]
    assert list(cv["per_class"]) == list(model.class_names)
    confusion = np.array(cv["confusion"])
    assert confusion.shape == (12, 12)
    assert confusion.sum() == 15_978 == sum(v["support"] for v in cv["per_class"].values())
    assert np.trace(confusion) / confusion.sum() == pytest.approx(cv["accuracy"])
    recall = np.diag(confusion) / confusion.sum(axis=1)
    np.testing.assert_allclose(recall, [v["recall"] for v in cv["per_class"].values()])
    assert len(cv["fold_accuracy"]) == cv["folds"] == 5


@pytest.fixture(scope="module")
def ism() -> tuple[np.ndarray, np.ndarray]:
    if not ISM_SPLIT.is_file():
        pytest.skip(f"InfraredSolarModules split absent ({ISM_SPLIT}); see shared/data/ism/README.md")
    with np.load(ISM_SPLIT, allow_pickle=False) as npz:
        images, labels = npz["images"], npz["labels"]
    pick = np.random.default_rng(0).permutation(len(labels))[:1000]
    return images[pick], labels[pick]


def test_it_reads_the_data_set_crops_as_they_were_trained(
    model: CropClassifier, ism: tuple[np.ndarray, np.ndarray]
) -> None:
    # The final fit saw every crop of the split, so on them it must do at least as well as the
    # cross-validated estimate on unseen crops; a preprocessing mismatch (scale, orientation, class
    # order) would drop it far below.
    images, labels = ism
    result = model.classify(images)
    cv = model_card()["cross_validation"]
    assert np.mean(np.array(result.labels) == labels) >= cv["accuracy"] - 0.03
    truth = labels != NO_ANOMALY
    assert np.mean(result.is_anomaly() == truth) >= cv["binary_accuracy"] - 0.03


def test_its_flip_averaging_makes_the_output_flip_invariant(model: CropClassifier, crops: np.ndarray) -> None:
    assert model.flip_tta
    p = model.predict_proba(crops)
    for view in flip_views(crops.astype(np.float32))[1:]:
        np.testing.assert_allclose(model.predict_proba(view), p, atol=1e-6)


def test_its_flip_averaging_is_the_mean_of_the_four_single_views(
    model: CropClassifier, crops: np.ndarray
) -> None:
    single = dataclasses.replace(model, flip_tta=False)
    views = flip_views(crops.astype(np.float32))
    mean = np.mean([single.predict_proba(v) for v in views], axis=0)
    np.testing.assert_allclose(model.predict_proba(crops), mean, atol=1e-6)
    assert not np.allclose(single.predict_proba(views[1]), single.predict_proba(views[0]), atol=1e-4)


def test_it_is_deterministic_and_independent_of_batching(model: CropClassifier) -> None:
    crops = np.random.default_rng(5).integers(0, 256, (37, *INPUT_SHAPE), dtype=np.uint8)
    batch = model.predict_proba(crops)
    np.testing.assert_array_equal(model.predict_proba(crops), batch)
    one_by_one = np.concatenate([model.predict_proba(c[None]) for c in crops[:5]])
    np.testing.assert_allclose(one_by_one, batch[:5], atol=1e-6)


def test_it_takes_floats_on_the_same_scale_as_uint8(model: CropClassifier, crops: np.ndarray) -> None:
    np.testing.assert_allclose(
        model.predict_proba(crops.astype(np.float64)), model.predict_proba(crops), atol=1e-6
    )


def test_its_standardised_channel_ignores_an_offset_and_its_intensity_channel_does_not(
    model: CropClassifier, crops: np.ndarray
) -> None:
    """Channel 0 is each crop standardised on its own; the intensity channel keeps how warm the module is,
    so a network that reads it tells a uniformly warmer crop from the same crop."""
    shifted = crops.astype(np.float64) - 37.5
    plain = input_channels(crops, model.norm_eps, intensity=True)
    moved = input_channels(shifted, model.norm_eps, intensity=True)
    np.testing.assert_allclose(moved[..., 0], plain[..., 0], atol=1e-5)
    np.testing.assert_allclose(moved[..., 1], plain[..., 1] - 37.5 / 64, atol=1e-5)
    if model.intensity_channel:
        assert not np.allclose(model.predict_proba(shifted), model.predict_proba(crops), atol=1e-3)
    else:
        np.testing.assert_allclose(model.predict_proba(shifted), model.predict_proba(crops), atol=1e-5)


def test_it_handles_an_empty_batch_and_a_flat_crop(model: CropClassifier) -> None:
    assert model.predict_proba(np.zeros((0, *INPUT_SHAPE), np.uint8)).shape == (0, 12)
    flat = model.predict_proba(np.full((1, *INPUT_SHAPE), 200, np.uint8))
    assert np.isfinite(flat).all()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros(INPUT_SHAPE, np.uint8), "shape"),
        (np.zeros((2, 24, 40), np.uint8), "shape"),
        (np.zeros((2, *INPUT_SHAPE, 1), np.uint8), "shape"),
        (np.full((2, *INPUT_SHAPE), np.nan), "NaN"),
        (np.full((2, *INPUT_SHAPE), np.inf), "NaN or infinite"),
        (np.full((2, *INPUT_SHAPE), "x"), "dtype"),
    ],
)
def test_it_rejects_bad_input_with_a_clear_message(bad: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        classify(bad)


@settings(max_examples=15, deadline=None)
@given(arrays(np.uint8, (3, *INPUT_SHAPE)))
def test_any_crop_gets_a_probability_distribution(crops: np.ndarray) -> None:
    result = classify(crops)
    assert isinstance(result, ClassifierResult)
    assert np.isfinite(result.probabilities).all()
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1, atol=1e-5)


def test_resizing_to_the_same_shape_changes_nothing(crops: np.ndarray) -> None:
    np.testing.assert_allclose(resize_crops(crops), crops, atol=1e-4)


def test_resizing_keeps_constants_and_the_mean_intensity() -> None:
    big = np.random.default_rng(2).uniform(100, 200, (4, 120, 72))
    out = resize_crops(big)
    assert out.shape == (4, *INPUT_SHAPE)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.mean(axis=(1, 2)), big.mean(axis=(1, 2)), atol=1.0)
    np.testing.assert_allclose(resize_crops(np.full((55, 31), 123.0)), 123.0, atol=1e-4)


def test_resizing_averages_when_shrinking_and_interpolates_when_enlarging() -> None:
    stripes = np.tile([0.0, 255.0], (80, 24))
    np.testing.assert_allclose(resize_crops(stripes)[:, 1:-1], 127.5, atol=1e-3)
    ramp = np.tile(np.arange(24.0), (40, 1))[::2, ::2]
    up = resize_crops(ramp, (40, 24))
    assert np.all(np.diff(up[:, 1:-1], axis=1) > 0)


def test_resizing_turns_landscape_crops_upright() -> None:
    portrait = np.random.default_rng(3).uniform(0, 255, (60, 36))
    landscape = np.rot90(portrait)
    np.testing.assert_allclose(resize_crops(landscape), resize_crops(portrait), atol=1e-4)
    assert resize_crops(landscape, rotate_landscape=False, shape=(24, 40)).shape == (24, 40)


def test_resized_crops_can_be_classified() -> None:
    big = np.random.default_rng(4).integers(0, 256, (2, 80, 48)).astype(np.uint8)
    assert classify(resize_crops(big)).probabilities.shape == (2, 12)


@pytest.mark.parametrize("bad", [np.zeros(5), np.zeros((1, 2, 3, 4)), np.zeros((0, 4))])
def test_resizing_rejects_arrays_that_are_not_crops(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="crops"):
        resize_crops(bad)


def naive_conv3x3(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Direct 3×3 convolution, zero padding 1: x (H, W, C_in), kernel (3, 3, C_in, C_out)."""
    h, w, _ = x.shape
    padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    out = np.tile(bias.astype(np.float64), (h, w, 1))
    for dy in range(3):
        for dx in range(3):
            out += padded[dy : dy + h, dx : dx + w] @ kernel[dy, dx]
    return out


def small_model(arrays: dict[str, np.ndarray]) -> CropClassifier:
    """A hand-made model file's network (12 classes, ε 1, no flips), with ``arrays`` its layers."""
    header = {
        "class_names": np.array(sorted(CLASSES)),
        "norm_eps": np.array(1.0),
        "flip_tta": np.array(False),
    }
    return model_from_arrays(header | arrays)


def naive_softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax of one crop's logits, as the reference the numpy model must match."""
    z = np.exp(logits - logits.max())
    return np.asarray(z / z.sum())


def test_a_residual_layer_adds_the_projected_input_of_the_block_before_the_relu() -> None:
    rng = np.random.default_rng(11)
    k0 = rng.normal(0, 0.5, (3, 3, 1, 3))
    k1 = rng.normal(0, 0.5, (3, 3, 3, 4))
    k2 = rng.normal(0, 0.5, (3, 3, 4, 4))
    skip = rng.normal(0, 0.5, (3, 4))
    fc = rng.normal(0, 0.5, (4, 12))
    biases = [rng.normal(0, 0.1, n) for n in (3, 4, 4, 4, 12)]
    arrays = {
        "pool_after": np.array([True, False, False]),
        "residual_from": np.array([-1, -1, 1]),
        "net0.conv0.weight": k0.reshape(9, 3),
        "net0.conv0.bias": biases[0],
        "net0.conv1.weight": k1.reshape(27, 4),
        "net0.conv1.bias": biases[1],
        "net0.conv2.weight": k2.reshape(36, 4),
        "net0.conv2.bias": biases[2],
        "net0.skip2.weight": skip,
        "net0.skip2.bias": biases[3],
        "net0.fc.weight": fc,
        "net0.fc.bias": biases[4],
    }
    model = small_model(arrays)
    crop = rng.integers(0, 256, (1, *INPUT_SHAPE)).astype(np.uint8)
    x = ((crop[0] - crop.mean()) / (crop.std() + 1.0))[..., None]
    a = np.maximum(naive_conv3x3(x, k0, biases[0]), 0)
    a = a.reshape(20, 2, 12, 2, 3).max(axis=(1, 3))
    b = np.maximum(naive_conv3x3(a, k1, biases[1]), 0)
    c = np.maximum(naive_conv3x3(b, k2, biases[2]) + a @ skip + biases[3], 0)
    logits = c.mean(axis=(0, 1)) @ fc + biases[4]
    np.testing.assert_allclose(model.predict_proba(crop)[0], naive_softmax(logits), atol=1e-5)
    assert parameter_count(model) == sum(a.size for k, a in arrays.items() if k.startswith("net0."))


def test_a_gated_residual_layer_scales_its_channels_before_the_shortcut_and_a_max_head_reads_peaks() -> None:
    rng = np.random.default_rng(13)
    k0 = rng.normal(0, 0.5, (3, 3, 1, 4))
    k1 = rng.normal(0, 0.5, (3, 3, 4, 4))
    k2 = rng.normal(0, 0.5, (3, 3, 4, 4))
    w1, b1 = rng.normal(0, 0.5, (4, 2)), rng.normal(0, 0.1, 2)
    w2, b2 = rng.normal(0, 0.5, (2, 4)), rng.normal(0, 0.1, 4)
    fc = rng.normal(0, 0.5, (8, 12))
    biases = [rng.normal(0, 0.1, n) for n in (4, 4, 4, 12)]
    arrays = {
        "pool_after": np.array([False, False, False]),
        "residual_from": np.array([-1, -1, 1]),
        "max_pooled": np.array(True),
        "net0.conv0.weight": k0.reshape(9, 4),
        "net0.conv0.bias": biases[0],
        "net0.conv1.weight": k1.reshape(36, 4),
        "net0.conv1.bias": biases[1],
        "net0.conv2.weight": k2.reshape(36, 4),
        "net0.conv2.bias": biases[2],
        "net0.se2.w1": w1,
        "net0.se2.b1": b1,
        "net0.se2.w2": w2,
        "net0.se2.b2": b2,
        "net0.fc.weight": fc,
        "net0.fc.bias": biases[3],
    }
    model = small_model(arrays)
    crop = rng.integers(0, 256, (1, *INPUT_SHAPE)).astype(np.uint8)
    x = ((crop[0] - crop.mean()) / (crop.std() + 1.0))[..., None]
    a = np.maximum(naive_conv3x3(x, k0, biases[0]), 0)
    b = np.maximum(naive_conv3x3(a, k1, biases[1]), 0)
    c = naive_conv3x3(b, k2, biases[2])
    gate = 1 / (1 + np.exp(-(np.maximum(c.mean(axis=(0, 1)) @ w1 + b1, 0) @ w2 + b2)))
    d = np.maximum(c * gate + a, 0)  # the block's input, same width: added without a projection
    logits = np.concatenate([d.mean(axis=(0, 1)), d.max(axis=(0, 1))]) @ fc + biases[3]
    np.testing.assert_allclose(model.predict_proba(crop)[0], naive_softmax(logits), atol=1e-5)
    assert parameter_count(model) == sum(a.size for k, a in arrays.items() if k.startswith("net0."))


def test_a_model_file_with_a_residual_link_to_a_later_layer_is_refused() -> None:
    arrays = dict(shipped_model_arrays())
    arrays["residual_from"] = np.arange(len(arrays["pool_after"]))
    with pytest.raises(ValueError, match="residual_from"):
        model_from_arrays(arrays)


def test_a_model_with_the_intensity_channel_sees_the_level_that_standardisation_removes() -> None:
    rng = np.random.default_rng(12)
    k0 = rng.normal(0, 0.5, (3, 3, 2, 3))
    fc = rng.normal(0, 0.5, (3, 12))
    b0, b1 = rng.normal(0, 0.1, 3), rng.normal(0, 0.1, 12)
    arrays = {
        "intensity_channel": np.array(True),
        "pool_after": np.array([False]),
        "net0.conv0.weight": k0.reshape(18, 3),
        "net0.conv0.bias": b0,
        "net0.fc.weight": fc,
        "net0.fc.bias": b1,
    }
    model = small_model(arrays)
    crop = rng.integers(60, 200, (1, *INPUT_SHAPE)).astype(np.float64)
    standardised = (crop[0] - crop.mean()) / (crop.std() + 1.0)
    x = np.stack([standardised, (crop[0] - 128) / 64], axis=-1)
    logits = np.maximum(naive_conv3x3(x, k0, b0), 0).mean(axis=(0, 1)) @ fc + b1
    np.testing.assert_allclose(model.predict_proba(crop)[0], naive_softmax(logits), atol=1e-5)
    assert not np.allclose(model.predict_proba(crop + 40), model.predict_proba(crop), atol=1e-3)
