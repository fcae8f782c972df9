"""Anomaly class of single PV module infrared crops, by a small convolutional network run in numpy.

The network was trained by ``scripts/pv/train_ism.py`` on the InfraredSolarModules data set [1]_
(Raptor Maps, MIT licence): 8-bit infrared intensity crops of one module each, 40 rows × 24 columns,
labelled with one of twelve classes (``CropClassifier.class_names``). It is a small stack [2]_ of
3×3 convolutions with batch normalisation [3]_ (folded into the convolution weights at export), ReLU
and 2×2 max pooling, optionally with residual connections [5]_ (a layer adds the input of an earlier
layer, through a 1×1 projection where the widths differ, before its ReLU), then global average pooling
and one linear layer; see the model card beside the weights (``modules/pv/models/ism_cnn.md``) for the
architecture, training recipe and cross-validated figures.

Inference reproduces the training-time pipeline exactly:

1. each crop is standardised on its own, ``(x − mean) / (std + ε)`` with ``ε`` from the model file, so
   that an intensity offset has no effect on this channel and a gain almost none (``ε`` is small against
   the crops' typical standard deviation of 15–30 intensity units); a model with an intensity channel
   also sees the crop on one fixed scale, ``(x − 128) / 64``, which keeps how warm the module is
   (:func:`input_channels`);
2. every member of the ensemble sees the crop and, when the model asks for test-time augmentation, its
   left-right, up-down and double flips;
3. the softmax probabilities of all members and views are averaged.

Convolutions run as im2col followed by one matrix product per layer (Chellapilla et al. [4]_), in
float32, channels last. The anomaly score is ``1 − P(No-Anomaly)``.

Crops must be portrait (rows along the module's long side) and on the data set's 8-bit intensity scale
[0, 255]; ``resize_crops`` brings other crop sizes to 40 × 24.

Public API: :func:`classify` (crops → :class:`ClassifierResult` with ``labels``, ``probabilities``,
``anomaly_score``), :func:`class_names`, :func:`resize_crops`. PyTorch is needed only to train
(``scripts/pv/train_ism.py``, extra ``train``); this module imports numpy alone.

References
----------
.. [1] Raptor Maps, "Infrared Solar Module Dataset for Anomaly Classification", ICLR 2020 Workshop on
   AI for Earth Sciences, 2020; github.com/RaptorMaps/InfraredSolarModules. Copyright (c) 2020 Raptor
   Maps, Inc., MIT licence.
.. [2] Simonyan, K., Zisserman, A., "Very Deep Convolutional Networks for Large-Scale Image
   Recognition", ICLR 2015.
.. [3] Ioffe, S., Szegedy, C., "Batch Normalization: Accelerating Deep Network Training by Reducing
   Internal Covariate Shift", ICML 2015.
.. [4] Chellapilla, K., Puri, S., Simard, P., "High Performance Convolutional Neural Networks for
   Document Processing", 10th International Workshop on Frontiers in Handwriting Recognition, 2006.
.. [5] He, K., Zhang, X., Ren, S., Sun, J., "Deep Residual Learning for Image Recognition", CVPR 2016.
.. [6] Hu, J., Shen, L., Sun, G., "Squeeze-and-Excitation Networks", CVPR 2018.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

INPUT_SHAPE = (40, 24)
"""Rows × columns of the crops the network takes [px]."""
NO_ANOMALY = "No-Anomaly"
"""Name of the nominal class; the anomaly score is one minus its probability."""
MODEL_RESOURCE = "models/ism_cnn.npz"
"""Shipped weights, relative to the ``gongzhi.modules.pv`` package."""

FloatArray = npt.NDArray[np.float32]
_BATCH_VIEWS = 32  # crops × views per forward pass: keeps im2col buffers in cache


@dataclass(frozen=True, slots=True)
class ConvLayer:
    """One 3×3 convolution (stride 1, zero padding 1) with folded batch norm, then ReLU.

    Attributes
    ----------
    weight : ndarray, shape (9 · C_in, C_out)
        Kernel in im2col order: row index ``(3 · dy + dx) · C_in + c``.
    bias : ndarray, shape (C_out,)
        Bias after folding the batch-norm shift.
    pool : bool
        Whether a 2×2 max pool with stride 2 follows the ReLU.
    residual_from : int
        Index of an earlier layer of the same network whose input is added to this layer's output
        before the ReLU (a residual connection [5]_), or −1 for none.
    skip_weight, skip_bias : ndarray, shapes (C_in of that layer, C_out) and (C_out,), optional
        1×1 projection (batch norm folded) of that input when its channel count differs.
    gate : SqueezeExcite, optional
        Channel gate applied to this convolution's output before the shortcut is added.
    """

    weight: FloatArray
    bias: FloatArray
    pool: bool
    residual_from: int = -1
    skip_weight: FloatArray | None = None
    skip_bias: FloatArray | None = None
    gate: SqueezeExcite | None = None


@dataclass(frozen=True, slots=True)
class SqueezeExcite:
    """Squeeze-and-excitation channel gate [6]_: ``x · σ(W₂ ReLU(W₁ mean(x) + b₁) + b₂)``.

    Attributes
    ----------
    w1, b1 : ndarray, shapes (C, C / r) and (C / r,)
    w2, b2 : ndarray, shapes (C / r, C) and (C,)
    """

    w1: FloatArray
    b1: FloatArray
    w2: FloatArray
    b2: FloatArray

    def __call__(self, x: FloatArray) -> FloatArray:
        """Gate a batch (N, H, W, C) channel by channel."""
        squeezed = np.maximum(x.mean(axis=(1, 2), dtype=np.float32) @ self.w1 + self.b1, 0)
        scale = 0.5 + 0.5 * np.tanh(0.5 * (squeezed @ self.w2 + self.b2))  # σ without overflow
        gated: FloatArray = x * scale[:, None, None, :].astype(np.float32)
        return gated


@dataclass(frozen=True, slots=True)
class Network:
    """One member of the ensemble: convolutions, global average pooling, one linear layer to logits."""

    convs: tuple[ConvLayer, ...]
    fc_weight: FloatArray
    fc_bias: FloatArray
    max_pooled: bool = False  # the head reads each channel's maximum beside its mean


@dataclass(frozen=True, slots=True)
class CropClassifier:
    """An ensemble of networks and the preprocessing they were trained with.

    Attributes
    ----------
    networks : tuple of Network
        Ensemble members; their softmax outputs are averaged.
    class_names : tuple of str
        Class of each output column.
    norm_eps : float
        ``ε`` of the per-crop standardisation [intensity units].
    flip_tta : bool
        Average over the four flips of each crop (test-time augmentation). Four times the work;
        ``dataclasses.replace(model, flip_tta=False)`` trades some accuracy for speed (model card).
    intensity_channel : bool
        The networks also see the crop's intensities on one fixed scale (:func:`input_channels`).
    """

    networks: tuple[Network, ...]
    class_names: tuple[str, ...]
    norm_eps: float
    flip_tta: bool
    intensity_channel: bool = False

    def predict_proba(self, crops: npt.ArrayLike) -> FloatArray:
        """Class probabilities of each crop, shape (N, n_classes) [-]; see :func:`classify`."""
        x = input_channels(crops, self.norm_eps, intensity=self.intensity_channel)
        out = np.empty((x.shape[0], len(self.class_names)), dtype=np.float32)
        step = _BATCH_VIEWS // 4 if self.flip_tta else _BATCH_VIEWS
        for start in range(0, x.shape[0], step):
            out[start : start + step] = self._chunk_proba(x[start : start + step])
        return out

    def classify(self, crops: npt.ArrayLike) -> ClassifierResult:
        """Classify a batch of crops; see :func:`classify`."""
        return ClassifierResult(self.predict_proba(crops), self.class_names)

    def _chunk_proba(self, x: FloatArray) -> FloatArray:
        views = flip_views(x) if self.flip_tta else x[None]
        batch = views.reshape(-1, *x.shape[1:])
        total = np.zeros((batch.shape[0], len(self.class_names)), dtype=np.float32)
        for net in self.networks:
            total += softmax(forward_logits(net, batch))
        n_avg = views.shape[0] * len(self.networks)
        mean: FloatArray = (total.reshape(views.shape[0], x.shape[0], -1).sum(axis=0) / n_avg).astype(
            np.float32
        )
        return mean


@dataclass(frozen=True, slots=True)
class ClassifierResult:
    """Probabilities of a batch of crops and what follows from them.

    Attributes
    ----------
    probabilities : ndarray, shape (N, n_classes)
        Averaged softmax output [-]; rows sum to one.
    class_names : tuple of str
        Class of each column.
    """

    probabilities: FloatArray
    class_names: tuple[str, ...]

    @property
    def class_index(self) -> npt.NDArray[np.intp]:
        """Index of the most probable class of each crop."""
        index: npt.NDArray[np.intp] = np.argmax(self.probabilities, axis=1)
        return index

    @property
    def labels(self) -> tuple[str, ...]:
        """Name of the most probable class of each crop."""
        return tuple(self.class_names[i] for i in self.class_index)

    @property
    def confidence(self) -> FloatArray:
        """Probability of the most probable class [-]."""
        top: FloatArray = np.max(self.probabilities, axis=1)
        return top

    @property
    def anomaly_score(self) -> FloatArray:
        """Probability that the module shows any anomaly, ``1 − P(No-Anomaly)`` [-]."""
        nominal = self.class_names.index(NO_ANOMALY)
        return (1 - self.probabilities[:, nominal]).astype(np.float32)

    def is_anomaly(self, threshold: float = 0.5) -> npt.NDArray[np.bool_]:
        """Whether ``anomaly_score`` reaches ``threshold`` [-]."""
        return self.anomaly_score >= threshold


def classify(crops: npt.ArrayLike, model: CropClassifier | None = None) -> ClassifierResult:
    """Classify infrared crops of single PV modules into the twelve InfraredSolarModules classes.

    Parameters
    ----------
    crops : array_like, shape (N, 40, 24)
        Portrait crops on the 8-bit intensity scale [0, 255], uint8 or float.
    model : CropClassifier, optional
        Defaults to the shipped model (:func:`default_model`).

    Returns
    -------
    ClassifierResult
        Probabilities of every class, labels and the binary anomaly score.

    Raises
    ------
    ValueError
        If ``crops`` is not a (N, 40, 24) array of finite real numbers.
    """
    return (model or default_model()).classify(crops)


def class_names() -> tuple[str, ...]:
    """The twelve classes of the shipped model, in the order of its probability columns."""
    return default_model().class_names


def standardise_crops(crops: npt.ArrayLike, eps: float) -> FloatArray:
    """Validate crops and standardise each one: ``(x − mean) / (std + eps)`` [-].

    Parameters
    ----------
    crops : array_like, shape (N, 40, 24)
        Intensities [0, 255].
    eps : float
        Added to each crop's standard deviation so that flat crops stay finite [intensity units].
    """
    return _standardised(_validated(crops), eps)


def _standardised(x: npt.NDArray[np.float64], eps: float) -> FloatArray:
    mean = x.mean(axis=(1, 2), keepdims=True, dtype=np.float64)
    std = x.std(axis=(1, 2), keepdims=True, dtype=np.float64)
    standardised: FloatArray = ((x - mean) / (std + eps)).astype(np.float32)
    return standardised


def input_channels(crops: npt.ArrayLike, eps: float, *, intensity: bool = False) -> FloatArray:
    """The networks' input, channels last, shape (N, 40, 24, C) [-].

    Channel 0 is :func:`standardise_crops`. With ``intensity``, channel 1 holds the intensities on one
    fixed scale, ``(x − 128) / 64``, which keeps what the per-crop standardisation removes: how warm and
    how contrasted the module is (an offline module is uniformly warm; its shape alone looks nominal).
    """
    x = _validated(crops)
    channels = [_standardised(x, eps)]
    if intensity:
        channels.append(((x - 128.0) / 64.0).astype(np.float32))
    return np.stack(channels, axis=-1)


def _validated(crops: npt.ArrayLike) -> npt.NDArray[np.float64]:
    x = np.asarray(crops)
    if x.dtype.kind not in "uif":
        raise ValueError(f"crops must be integers or floats, got dtype {x.dtype}")
    if x.ndim != 3 or x.shape[1:] != INPUT_SHAPE:
        raise ValueError(
            f"crops must have shape (N, {INPUT_SHAPE[0]}, {INPUT_SHAPE[1]}), got {x.shape}; "
            "use resize_crops for other sizes and add a leading axis for a single crop"
        )
    x = x.astype(np.float64)
    if not np.isfinite(x).all():
        raise ValueError("crops contain NaN or infinite values")
    return x


def flip_views(x: FloatArray) -> FloatArray:
    """Stack a batch (N, H, W[, C]) with its left-right, up-down and double flips: shape (4, N, H, W[, C])."""
    return np.stack([x, x[:, :, ::-1], x[:, ::-1, :], x[:, ::-1, ::-1]])


def forward_logits(net: Network, x: FloatArray) -> FloatArray:
    """Logits of a batch of network inputs, channels last (N, H, W, C) → (N, n_classes)."""
    inputs: list[FloatArray] = []
    for layer in net.convs:
        inputs.append(x)
        shortcut = None if layer.residual_from < 0 else inputs[layer.residual_from]
        if shortcut is not None and layer.skip_weight is not None and layer.skip_bias is not None:
            shortcut = shortcut @ layer.skip_weight + layer.skip_bias
        if layer.gate is None:
            x = conv3x3_relu(x, layer.weight, layer.bias, shortcut)
        else:
            x = layer.gate(conv3x3_relu(x, layer.weight, layer.bias, relu=False))
            if shortcut is not None:
                x += shortcut
            np.maximum(x, 0, out=x)
        if layer.pool:
            x = max_pool2(x)
    features = x.mean(axis=(1, 2), dtype=np.float32)
    if net.max_pooled:
        features = np.concatenate([features, x.max(axis=(1, 2))], axis=1)
    logits: FloatArray = (features @ net.fc_weight + net.fc_bias).astype(np.float32)
    return logits


def conv3x3_relu(
    x: FloatArray,
    weight: FloatArray,
    bias: FloatArray,
    shortcut: FloatArray | None = None,
    *,
    relu: bool = True,
) -> FloatArray:
    """3×3 convolution, stride 1, zero padding 1, plus ``shortcut``, then ReLU (unless ``relu`` is
    false), by im2col and one product.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C_in)
    weight : ndarray, shape (9 · C_in, C_out)
    bias : ndarray, shape (C_out,)
    shortcut : ndarray, shape (N, H, W, C_out), optional
        Added before the ReLU (residual connection).
    """
    n, h, w, c = x.shape
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    windows = sliding_window_view(padded, (3, 3), axis=(1, 2)).transpose(0, 1, 2, 4, 5, 3)
    cols = np.ascontiguousarray(windows).reshape(n * h * w, 9 * c)
    out = cols @ weight
    out += bias
    if shortcut is not None:
        out += shortcut.reshape(n * h * w, -1)
    if relu:
        np.maximum(out, 0, out=out)
    return out.reshape(n, h, w, -1)


def max_pool2(x: FloatArray) -> FloatArray:
    """2×2 max pooling with stride 2 of (N, H, W, C), H and W even."""
    n, h, w, c = x.shape
    pooled: FloatArray = x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))
    return pooled


def softmax(logits: FloatArray) -> FloatArray:
    """Row-wise softmax, shifted by the row maximum for stability [-]."""
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba: FloatArray = (z / z.sum(axis=1, keepdims=True)).astype(np.float32)
    return proba


def resize_crops(
    crops: npt.ArrayLike, shape: tuple[int, int] = INPUT_SHAPE, *, rotate_landscape: bool = True
) -> FloatArray:
    """Resample crops of any size to ``shape`` with a triangle (bilinear) filter.

    The filter widens by the scale factor when shrinking, so downsampling averages every input pixel
    (antialiasing, as Pillow's ``BILINEAR`` resize); enlarging is plain bilinear interpolation with
    pixel centres at half-integers and edge values held.

    Parameters
    ----------
    crops : array_like, shape (H, W) or (N, H, W)
        Intensities; the scale is kept [intensity units].
    shape : (int, int)
        Output rows × columns [px].
    rotate_landscape : bool
        Turn crops wider than tall by 90° first, since the network expects portrait modules.

    Returns
    -------
    ndarray, float32, shape ``shape`` or (N, *shape)
    """
    x = np.asarray(crops, dtype=np.float64)
    if x.ndim not in (2, 3) or min(x.shape[-2:], default=0) < 1:
        raise ValueError(f"crops must be a (H, W) or (N, H, W) array, got shape {x.shape}")
    if min(shape) < 1:
        raise ValueError(f"shape must be positive, got {shape}")
    if rotate_landscape and x.shape[-1] > x.shape[-2]:
        x = np.swapaxes(x, -1, -2)[..., ::-1]
    rows = _resample_matrix(x.shape[-2], shape[0])
    cols = _resample_matrix(x.shape[-1], shape[1])
    resized: FloatArray = np.einsum("ih,...hw,jw->...ij", rows, x, cols).astype(np.float32)
    return resized


def _resample_matrix(n_in: int, n_out: int) -> npt.NDArray[np.float64]:
    scale = n_in / n_out
    support = max(scale, 1.0)
    centres = (np.arange(n_out) + 0.5) * scale
    taps = np.arange(n_in) + 0.5
    weights = np.clip(1 - np.abs(taps[None, :] - centres[:, None]) / support, 0, None)
    matrix: npt.NDArray[np.float64] = weights / weights.sum(axis=1, keepdims=True)
    return matrix


def model_from_arrays(arrays: Mapping[str, npt.NDArray[np.generic]]) -> CropClassifier:
    """Build a classifier from the arrays of a model file (see ``scripts/pv/train_ism.py``).

    Keys: ``class_names``, ``norm_eps``, ``flip_tta``, optionally ``intensity_channel`` (default false),
    ``pool_after`` (one flag per convolution),
    optionally ``residual_from`` (one index per convolution, −1 for none; see :class:`ConvLayer`), and per
    member ``m`` and layer ``i``: ``net{m}.conv{i}.weight`` (9 · C_in, C_out), ``net{m}.conv{i}.bias``,
    optionally ``net{m}.skip{i}.weight`` (C_in, C_out) and ``net{m}.skip{i}.bias``,
    optionally ``net{m}.se{i}.w1``, ``.b1``, ``.w2``, ``.b2`` (a :class:`SqueezeExcite` gate),
    ``net{m}.fc.weight`` (C, n_classes, or 2 C with ``max_pooled``: means then maxima), ``net{m}.fc.bias``.
    """
    pools = [bool(p) for p in arrays["pool_after"]]
    residual = [int(r) for r in arrays.get("residual_from", np.full(len(pools), -1))]
    if any(not -1 <= r < i for i, r in enumerate(residual)) or len(residual) != len(pools):
        raise ValueError(f"residual_from must name an earlier layer or be -1, got {residual}")
    n_nets = 1 + max(int(k.split(".")[0][3:]) for k in arrays if k.startswith("net"))

    def f32(key: str) -> FloatArray:
        return np.ascontiguousarray(arrays[key], dtype=np.float32)

    networks = tuple(
        Network(
            convs=tuple(
                ConvLayer(
                    f32(f"net{m}.conv{i}.weight"),
                    f32(f"net{m}.conv{i}.bias"),
                    pool,
                    residual[i],
                    f32(f"net{m}.skip{i}.weight") if f"net{m}.skip{i}.weight" in arrays else None,
                    f32(f"net{m}.skip{i}.bias") if f"net{m}.skip{i}.bias" in arrays else None,
                    SqueezeExcite(*(f32(f"net{m}.se{i}.{k}") for k in ("w1", "b1", "w2", "b2")))
                    if f"net{m}.se{i}.w1" in arrays
                    else None,
                )
                for i, pool in enumerate(pools)
            ),
            fc_weight=f32(f"net{m}.fc.weight"),
            fc_bias=f32(f"net{m}.fc.bias"),
            max_pooled=bool(arrays.get("max_pooled", False)),
        )
        for m in range(n_nets)
    )
    return CropClassifier(
        networks=networks,
        class_names=tuple(str(c) for c in arrays["class_names"]),
        norm_eps=float(arrays["norm_eps"]),
        flip_tta=bool(arrays["flip_tta"]),
        intensity_channel=bool(arrays.get("intensity_channel", False)),
    )


def read_model_arrays(data: bytes) -> dict[str, npt.NDArray[np.generic]]:
    """Arrays of a model file given as bytes (``.npz``, no pickled objects)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


@functools.cache
def shipped_model_arrays() -> dict[str, npt.NDArray[np.generic]]:
    """Arrays of the shipped model file, including its torch reference inputs and outputs."""
    data = resources.files("gongzhi.modules.pv").joinpath(MODEL_RESOURCE).read_bytes()
    return read_model_arrays(data)


@functools.cache
def default_model() -> CropClassifier:
    """The shipped classifier, loaded once per process."""
    return model_from_arrays(shipped_model_arrays())


def parameter_count(model: CropClassifier) -> int:
    """Number of weights and biases in the ensemble after batch-norm folding."""
    arrays = [
        a
        for net in model.networks
        for layer in net.convs
        for a in (layer.weight, layer.bias, layer.skip_weight, layer.skip_bias)
        if a is not None
    ]
    arrays += [
        a
        for net in model.networks
        for layer in net.convs
        if layer.gate is not None
        for a in (layer.gate.w1, layer.gate.b1, layer.gate.w2, layer.gate.b2)
    ]
    arrays += [a for net in model.networks for a in (net.fc_weight, net.fc_bias)]
    return sum(math.prod(a.shape) for a in arrays)
