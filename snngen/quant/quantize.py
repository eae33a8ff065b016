"""Per-layer quantization of an imported float model, and Hessian-guided mixed precision.

The float model (:class:`~snngen.quant.nir_import.FloatModel`) has weights in thresholds: every neuron
fires at 1. Quantizing layer ℓ to b bits is choosing an integer threshold θ_ℓ and rounding
``θ_ℓ · w`` into the signed b-bit range (docs/quantization.md):

- **weights**: symmetric, per neuron (default; the scale of a neuron's incoming weights, like
  per-channel scales) or per layer: ``θ = max(1, round(c · (2^(b−1) − 1) / max|W|))`` with the
  clipping ratio c ∈ [0.35, 1] that minimizes the squared rounding error (the largest weights
  clip a little when that buys resolution for the rest);
- **membrane state**: one width B for the network, with headroom: the state holds ±4·θ_max (two
  bits above the largest threshold, so a step's input rarely saturates), and B > k for the leak.
  A neuron's state and its weights share its scale θ, so no rescaling is needed;
- **bias**: ``round(θ_ℓ · bias)``, saturated to the lattice.

``auto`` allocates bits per layer from Hutchinson estimates of each layer's Hessian trace
(Lui & Neftci 2021; :func:`allocate_bits`).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from collections.abc import Sequence

import numpy as np

from ..errors import InputError
from ..hw.plan import bits_for_range
from ..model.golden import simulate_batch
from ..model.network import Layer, Network, NeuronModel, Reset, StateFormat
from .nir_import import (
    FloatModel,
    check_leak_fits,
    check_reset,
    current_bits_for,
    float_ranges,
    state_bits_for,
    v2_dynamics,
)

__all__ = [
    "AUTO_CANDIDATES",
    "LayerQuantization",
    "accuracy",
    "allocate_bits",
    "classify",
    "parse_bits",
    "parse_budget",
    "parse_budget_text",
    "predict",
    "quantize_layer",
    "quantize_model",
    "quantize_rows",
    "run_inference",
    "threshold_ranges",
    "weight_memory_bits",
]

# The widths `auto` chooses from: every width up to 8, and 16.
AUTO_CANDIDATES = (2, 3, 4, 5, 6, 7, 8, 16)
MIN_QUANT_BITS, MAX_QUANT_BITS = 2, 16
_CLIP_RATIOS = np.linspace(0.35, 1.0, 27)
STATE_HEADROOM = 4
# Semantics v2 keeps a threshold at least 2^11 state units: the weights are shifted left into
# the state (a weight shift, as Loihi's a_in << 6), so that the decays' rounding toward zero
# works far below the weights' step (at θ = 20 it cost the braille network 50 points).
STATE_RESOLUTION_BITS = 12


GRANULARITIES = ("neuron", "layer")


@dataclasses.dataclass(frozen=True)
class LayerQuantization:
    """How one layer was quantized.

    Members
    -------
    name : str
    bits : int
    thresholds : tuple of int
        θ of each of the layer's neurons: integer units per threshold (the quantization scale;
        all equal with per-layer granularity).
    clipped : int
        Weights beyond the clipped range (saturated to the largest integer).
    weight_count : int
        The layer's weights as the graph declares them.
    squared_error : float
        ‖Q(W) − W‖² in thresholds², over the declared weights.
    """

    name: str
    bits: int
    thresholds: tuple[int, ...]
    clipped: int
    weight_count: int
    squared_error: float

    @property
    def threshold(self) -> int | None:
        """The layer's θ when all its neurons share one, else None."""
        return self.thresholds[0] if len(set(self.thresholds)) == 1 else None

    def to_json(self) -> dict:
        return {"name": self.name, "bits": self.bits, "threshold_min": min(self.thresholds),
                "threshold_max": max(self.thresholds), "clipped": self.clipped,
                "weight_count": self.weight_count, "squared_error": self.squared_error}


def quantize_layer(weights: np.ndarray, bits: int, threshold: int | None = None
                   ) -> tuple[int, np.ndarray, float, float, int]:
    """(θ, integer weights, clip ratio, squared error, clipped count) of one layer at `bits`.

    `weights` are the layer's declared weights in thresholds (any shape). θ is searched
    (the clipping ratio with the least squared error) unless `threshold` fixes it.
    """
    w = np.asarray(weights, dtype=np.float64)
    top = (1 << (bits - 1)) - 1
    lo, hi = -(1 << (bits - 1)), top
    largest = float(np.abs(w).max()) if w.size else 0.0
    if largest == 0.0:
        return threshold or 1, np.zeros(w.shape, dtype=np.int64), 1.0, 0.0, 0
    best = None
    choices = [threshold] if threshold is not None else [
        max(1, round(ratio * top / largest)) for ratio in _CLIP_RATIOS]
    for theta in choices:
        ratio = theta * largest / top
        rounded = np.rint(w * theta)
        integer = np.clip(rounded, lo, hi)
        error = float(((integer / theta - w) ** 2).sum())
        # Strictly better only: among equal errors the first (smallest θ) stays, deterministic.
        if best is None or error < best[3] - 1e-15:
            best = (theta, integer.astype(np.int64), float(ratio), error,
                    int(((rounded < lo) | (rounded > hi)).sum()))
    return best


def parse_bits(text: str, layers: int) -> list[int] | str:
    """``"8"`` → that width for every layer; ``"8,4,4"`` → one per layer; ``"auto"``."""
    text = str(text).strip()
    if text == "auto":
        return "auto"
    parts = text.split(",")
    allowed = f"{MIN_QUANT_BITS}..{MAX_QUANT_BITS}"
    values = []
    for part in parts:
        if not re.fullmatch(r"\d+", part.strip()):
            raise InputError(f"--bits must be auto, one width or one per layer (like 8,4,4), "
                             f"each in {allowed}, not {text!r}")
        value = int(part)
        if not MIN_QUANT_BITS <= value <= MAX_QUANT_BITS:
            raise InputError(f"--bits widths must be in {allowed}, not {value}")
        values.append(value)
    if len(values) == 1:
        return values * layers
    if len(values) != layers:
        raise InputError(f"--bits must give one width for each of the {layers} layers, "
                         f"not {len(values)} ({text})")
    return values


def parse_budget_text(text: str) -> tuple[str, float]:
    """Check a ``--budget`` before any work: ("bits", n) or ("percent", p)."""
    text = str(text).strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)%", text)
    if match:
        percent = float(match.group(1))
        if not 0 < percent <= 400:
            raise InputError(f"--budget must be a percentage in (0, 400], not {text}")
        return "percent", percent
    if re.fullmatch(r"\d+", text) and int(text) > 0:
        return "bits", int(text)
    raise InputError(f"--budget must be a bit count (like 12000) or a percentage of the uniform "
                     f"8-bit weight memory (like 42%), not {text!r}")


def parse_budget(text: str, model: FloatModel) -> int:
    """``--budget``: total weight-memory bits, as ``12000`` bits or ``42%`` of uniform 8-bit."""
    kind, value = parse_budget_text(text)
    if kind == "bits":
        return int(value)
    uniform8 = weight_memory_bits(model, [8] * len(model.layers))
    return math.floor(uniform8 * value / 100)


def weight_memory_bits(model: FloatModel, bits: Sequence[int]) -> int:
    """Σ_ℓ (declared weights of ℓ) · b_ℓ: the measure of the paper (dense weight storage)."""
    return sum(model.layer_weight_count(i) * b for i, b in enumerate(bits))


def quantize_rows(block: np.ndarray, declared: np.ndarray, bits: int, granularity: str,
                  thresholds=None) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Quantize one layer's weight block: (θ per row, integer block, squared error, clipped).

    ``granularity="layer"``: one θ for the block; ``"neuron"``: one θ per row (per output
    neuron, like per-channel scales). `thresholds` (a number, or one per row) fixes θ instead of
    the error-minimizing search.
    """
    if granularity not in GRANULARITIES:
        raise InputError(f"granularity must be neuron or layer, not {granularity!r}")
    rows = block.shape[0]
    fixed = None if thresholds is None else np.broadcast_to(np.asarray(thresholds), (rows,))
    integer = np.zeros(block.shape, dtype=np.int64)
    thetas = np.zeros(rows, dtype=np.int64)
    error, clipped = 0.0, 0
    groups = [np.arange(rows)] if granularity == "layer" else [np.array([r]) for r in range(rows)]
    for chosen in groups:
        mask = np.zeros(block.shape, dtype=bool)
        mask[chosen] = declared[chosen]
        theta, values, _, part_error, part_clipped = quantize_layer(
            block[mask], bits, None if fixed is None else int(fixed[chosen[0]]))
        integer[mask] = values
        thetas[chosen] = theta
        error += part_error
        clipped += part_clipped
    return thetas, integer, error, clipped


def quantize_model(model: FloatModel, bits: Sequence[int], *, state_bits: int | None = None,
                   representation: str = "signed", overflow: str = "saturate",
                   reset: str | None = "subtract", granularity: str = "neuron",
                   thresholds: Sequence | None = None
                   ) -> tuple[Network, list[LayerQuantization]]:
    """A layered :class:`Network` (format version 2) with layer ℓ's weights at ``bits[ℓ]``.

    Parameters
    ----------
    model : FloatModel
    bits : sequence of int
        One weight width per layer, 2..16.
    state_bits : int, optional
        B. Default: the narrowest that holds ±4·θ_max and the leak shift.
    reset : {"subtract", "zero"}
        snnTorch's default is "subtract" (NIR cannot say so).
    granularity : {"neuron", "layer"}
        One scale θ per neuron (``neuron_thresholds``: the hardware stores θ beside each
        neuron's bias) or one per layer (a constant in each layer's groups).
    thresholds : sequence, optional
        θ per layer (a number, or one per neuron of the layer), instead of the search (after
        quantization-aware fine-tuning on that grid).
    """
    if len(bits) != len(model.layers):
        raise InputError(f"bits must give one width per layer ({len(model.layers)}), "
                         f"not {len(bits)}")
    mode = check_reset(reset)
    fixed = None if thresholds is None else list(thresholds)
    n = model.neurons
    weights = np.zeros((n, n + model.inputs), dtype=np.int64)
    bias = np.zeros(n, dtype=np.int64)
    theta = np.zeros(n, dtype=np.int64)
    reports = []
    for index, width in enumerate(bits):
        rows = model.layer_rows(index)
        declared = model.structure[rows]
        thetas, integer, error, clipped = quantize_rows(
            model.layer_weights(index), declared, width, granularity,
            None if fixed is None else fixed[index])
        weights[rows] = integer
        bias[rows] = np.rint(model.bias[rows] * thetas).astype(np.int64)
        theta[rows] = thetas
        reports.append(LayerQuantization(model.layers[index]["name"], int(width),
                                         tuple(int(t) for t in thetas), clipped,
                                         int(declared.sum()), error))
    fraction = np.zeros(n, dtype=np.int64)
    if model.dynamics is not None:
        for index in range(len(bits)):
            rows = model.layer_rows(index)
            fraction[rows] = max(0, STATE_RESOLUTION_BITS - int(theta[rows].min()).bit_length())
        theta = theta << fraction
        bias = np.rint(model.bias * theta).astype(np.int64)
    largest = int(theta.max())
    needed, _ = bits_for_range(-STATE_HEADROOM * largest, STATE_HEADROOM * largest)
    if model.leak_shift is not None:
        needed = max(needed, model.leak_shift + 1)
    extents = None
    if model.dynamics is not None:
        # A two-state network's membrane and current reach far past the threshold (inhibited
        # neurons of a trained recurrent network sink to hundreds of thresholds): the widths
        # come from what the float model reaches on a calibration stimulus.
        extents = float_ranges(model)
        needed = max(needed, state_bits_for(extents[0], largest))
    if state_bits is None:
        state_bits = min(needed, 32)
    state = StateFormat(state_bits, representation, overflow)
    if largest > state.max:
        raise InputError(f"--state-bits {state_bits} cannot hold the largest threshold "
                         f"{largest} ({state.describe()} tops out at {state.max}); use "
                         f"--state-bits {needed}")
    check_leak_fits(model.leak_shift, state_bits)
    bias = np.clip(bias, state.min, state.max)
    reset_value = 0
    if mode == "zero" and model.reset_to != 0:
        if len(set(theta.tolist())) > 1:
            raise InputError(f"a zero reset to v_reset/v_threshold = {model.reset_to:g} needs "
                             "one threshold for every neuron; quantize with reset subtract or "
                             "v_reset = 0")
        reset_value = int(np.clip(round(model.reset_to * largest), state.min, state.max))
    per_layer = granularity == "layer"
    dynamics, compare_at = None, theta
    if model.dynamics is not None:
        current_state = StateFormat(min(32, max(current_bits_for(state_bits),
                                                state_bits_for(extents[1], largest))),
                                    representation, overflow)
        dynamics, compare_at = v2_dynamics(model, theta, state, current_state, fraction)
    layers = tuple(Layer(report.name, model.layer_rows(i).stop - model.layer_rows(i).start,
                         report.bits,
                         int(compare_at[model.layer_rows(i).start]) if per_layer else None)
                   for i, report in enumerate(reports))
    network = Network(
        state=state,
        neuron=NeuronModel(threshold=int(compare_at[0]), leak_shift=model.leak_shift,
                           reset=Reset(mode), reset_value=reset_value),
        weight_bits=max(bits), weights=weights[:, :n], input_weights=weights[:, n:], bias=bias,
        layers=layers, neuron_thresholds=None if per_layer else compare_at, dynamics=dynamics,
        extra={"quantization": {"dt": model.dt, "bits": [int(b) for b in bits],
                                "granularity": granularity,
                                "layers": [r.to_json() for r in reports]}},
    )
    return network, reports


def allocate_bits(model: FloatModel, traces: Sequence[float], budget: int,
                  candidates: Sequence[int] = AUTO_CANDIDATES, granularity: str = "neuron"
                  ) -> tuple[list[int], float]:
    """Per-layer widths minimizing the Hessian-weighted quantization perturbation in a budget.

    The objective (Lui & Neftci 2021, after HAWQ-V2) is
    ``Ω(b) = Σ_ℓ Tr(H_ℓ)/n_ℓ · ‖Q_b(W_ℓ) − W_ℓ‖²``: a layer whose loss is sharp (a large mean
    Hessian eigenvalue Tr/n) pays more for the same rounding error. Every combination of
    `candidates` whose weight memory fits `budget` is tried (ties: the smaller memory, then
    the wider first layers); returns (widths, Ω).
    """
    layers = len(model.layers)
    if len(traces) != layers:
        raise InputError(f"traces must give one Hessian trace per layer ({layers}), "
                         f"not {len(traces)}")
    errors = []
    for index in range(layers):
        declared = model.structure[model.layer_rows(index)]
        block = model.layer_weights(index)
        errors.append({b: quantize_rows(block, declared, b, granularity)[2] for b in candidates})
    counts = [model.layer_weight_count(i) for i in range(layers)]
    # A negative trace estimate (noise around a flat direction) counts as no sensitivity.
    sensitivity = [max(float(t), 0.0) / max(c, 1) for t, c in zip(traces, counts, strict=True)]
    smallest = min(candidates)
    if sum(c * smallest for c in counts) > budget:
        raise InputError(f"--budget {budget} bits is below the smallest network "
                         f"({sum(c * smallest for c in counts)} bits at {smallest} bits a weight)")
    if len(candidates) ** layers > 2_000_000:
        raise InputError(f"auto allocation tries every combination: {layers} layers × "
                         f"{len(candidates)} widths is too many; give --bits per layer")
    best = None
    for combination in itertools.product(candidates, repeat=layers):
        memory = sum(c * b for c, b in zip(counts, combination, strict=True))
        if memory > budget:
            continue
        omega = sum(s * errors[i][b] for i, (s, b) in enumerate(
            zip(sensitivity, combination, strict=True)))
        key = (omega, memory, tuple(-b for b in combination))
        if best is None or key < best[0]:
            best = (key, list(combination))
    return best[1], best[0][0]


def run_inference(network: Network, inputs: np.ndarray, extra_steps: int | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Every sample through the integer golden model: (padded inputs, spikes).

    Parameters
    ----------
    inputs : ndarray of 0/1, shape (samples, T, K)
    extra_steps : int, optional
        Steps with no input after the T stimulus steps: a spike crosses one layer per step, so an
        L-layer network needs L − 1 more to answer (the default).

    Returns
    -------
    padded : ndarray of uint8, shape (samples, T + extra, K)
    spikes : ndarray of uint8, shape (samples, T + extra, N)
    """
    samples, steps, _ = inputs.shape
    extra = (len(network.layer_spans) - 1) if extra_steps is None else extra_steps
    padded = np.zeros((samples, steps + extra, inputs.shape[2]), dtype=np.uint8)
    padded[:, :steps] = inputs
    spikes = np.zeros((samples, steps + extra, network.neurons), dtype=np.uint8)
    chunk = 256
    for start in range(0, samples, chunk):
        part = padded[start:start + chunk]
        batch = simulate_batch([network] * len(part), steps + extra, list(part),
                               record_state=False)
        spikes[start:start + len(part)] = batch.spikes[:, :, :network.neurons]
    return padded, spikes


def predict(spikes: np.ndarray, readout: slice) -> np.ndarray:
    """The readout neuron with the most spikes per sample (the lowest index on ties)."""
    return np.argmax(spikes[:, :, readout].sum(axis=1), axis=1)


def classify(network: Network, inputs: np.ndarray, readout: slice,
             extra_steps: int | None = None) -> np.ndarray:
    """Predicted class per sample (:func:`predict` of :func:`run_inference`).

    Parameters
    ----------
    inputs : ndarray of 0/1, shape (samples, T, K)
    readout : slice
        The output layer's neurons.
    extra_steps : int, optional
        As for :func:`run_inference`.
    """
    return predict(run_inference(network, inputs, extra_steps)[1], readout)


def accuracy(network: Network, inputs: np.ndarray, labels: np.ndarray, readout: slice) -> float:
    """The fraction of samples :func:`classify` gets right."""
    return float((classify(network, inputs, readout) == labels).mean())


def threshold_ranges(network: Network) -> list[tuple[int, int]]:
    """(smallest, largest) θ of each layer."""
    theta = np.broadcast_to(network.thresholds, (network.neurons,))
    return [(int(theta[first:end].min()), int(theta[first:end].max()))
            for _, first, end in network.layer_spans]


def load_dataset(path, inputs: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """A data set file for ``quantize``: an .npz with ``inputs`` (samples, T, K) of 0/1 spikes
    and ``labels`` (samples,) of class indices 0..classes−1 (the readout layer's neurons)."""
    import zipfile

    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise InputError(f"{path}: not an .npz file ({error})") from None
    for key in ("inputs", "labels"):
        if key not in arrays:
            raise InputError(f"{path}: the array {key!r} is missing (needs inputs and labels)")
    x, y = arrays["inputs"], arrays["labels"]
    if x.ndim != 3 or x.shape[2] != inputs:
        raise InputError(f"{path}: inputs must have shape (samples, steps, {inputs}), not "
                         f"{x.shape}")
    if x.dtype.kind not in "iub" or (x.size and not np.isin(x, (0, 1)).all()):
        raise InputError(f"{path}: inputs must be 0/1 spikes")
    if y.shape != (x.shape[0],) or y.dtype.kind not in "iu":
        raise InputError(f"{path}: labels must be {x.shape[0]} integers, not {y.dtype} of shape "
                         f"{y.shape}")
    if y.size and not (y.min() >= 0 and y.max() < classes):
        raise InputError(f"{path}: labels must be in 0..{classes - 1} (the readout layer has "
                         f"{classes} neurons), not {int(y.min())}..{int(y.max())}")
    return x.astype(np.uint8), y.astype(np.int64)
