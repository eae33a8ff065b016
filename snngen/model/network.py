"""The network description: one frozen, validated dataclass tree, and its ``network.json`` form.

Every part of snngen (the golden model, the RTL generator, the testbenches, the board tops) reads a
:class:`Network`. It is validated once, when it is made, against the ranges of
``docs/semantics.md``; after that every consumer may rely on it.

The tree::

    Network
    ├── state: StateFormat        bits, representation, overflow  (the lattice)
    ├── neuron: NeuronModel       threshold, leak_shift, reset, reset_value
    ├── weight_bits               signed width of every synaptic weight
    ├── weights[N, N]             weights[i, j]: synapse from neuron j to neuron i
    ├── input_weights[N, K]       input_weights[i, c]: synapse from input channel c to neuron i
    ├── bias[N], initial_state[N]
    ├── layers: tuple[Layer]      optional (format version 2): consecutive neuron ranges, each
    │                             with its own weight width and threshold
    └── extra                     unknown keys of network.json, kept and written back
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import stat
import sys
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from .._files import atomic_write_text
from ..errors import InputError, InputTypeError

__all__ = [
    "EXTRA_FIELDS",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MAX_NEURONS",
    "MAX_STATE_BITS",
    "MAX_WEIGHT_BITS",
    "MIN_STATE_BITS",
    "MIN_WEIGHT_BITS",
    "Accumulate",
    "Compare",
    "Current",
    "CurrentOrder",
    "Decay",
    "Dynamics",
    "Layer",
    "MembraneSum",
    "Network",
    "NeuronModel",
    "Overflow",
    "Rail",
    "Representation",
    "Reset",
    "StateFormat",
    "load_network",
    "network_from_json",
    "network_to_json",
    "save_network",
]

FORMAT_NAME = "snngen-network"
FORMAT_VERSION = 4
# Older versions are still read, and a network is written with the oldest version that holds it
# (1 without layers, 2 with layers or per-neuron thresholds, 3 with dynamics, 4 with
# projections), so files made before a feature existed keep their bytes.
READ_VERSIONS = (1, 2, 3, 4)

MIN_STATE_BITS, MAX_STATE_BITS = 2, 32
MIN_WEIGHT_BITS, MAX_WEIGHT_BITS = 1, 32
# Keeps every synaptic sum exact in int64: (N + K + 1) * 2**32 < 2**63.
MAX_NEURONS = MAX_INPUTS = 1 << 24


class Representation(enum.StrEnum):
    """How the B bits of a membrane state are read."""

    SIGNED = "signed"
    UNSIGNED = "unsigned"


class Overflow(enum.StrEnum):
    """What happens when ``u + I`` leaves the lattice."""

    SATURATE = "saturate"
    WRAP = "wrap"


class Reset(enum.StrEnum):
    """What a neuron's state becomes after it spikes."""

    ZERO = "zero"
    SUBTRACT = "subtract"
    NONE = "none"


class Rail(enum.StrEnum):
    """Which end values a signed lattice has (semantics v2)."""

    FULL = "full"            # [−2^(B−1), 2^(B−1) − 1], two's complement
    SYMMETRIC = "symmetric"  # saturate: ±(2^(B−1) − 1); wrap: the window (−2^(B−1), 2^(B−1)]


class Decay(enum.StrEnum):
    """How a state decays each step (semantics v2); the parameter is per neuron."""

    NONE = "none"              # x
    SHIFT = "shift"            # x − (x >> k)
    SHIFT_MIN1 = "shift_min1"  # x − (x >> k), but by at least 1 toward zero when x ≠ 0 (Xylo)
    MULTIPLY = "multiply"      # sgn(p)·(|p| >> 12), p = x·(4096 − d): rounds toward zero (Loihi)


class Accumulate(enum.StrEnum):
    """How a step's weighted events enter the synaptic current (semantics v2)."""

    EXACT = "exact"          # the exact sum, one overflow per step
    PER_EVENT = "per_event"  # every event is its own overflowing add, in a fixed order (Xylo)


class CurrentOrder(enum.StrEnum):
    """Whether the synaptic current decays before or after the step's events are added."""

    DECAY_THEN_ADD = "decay_then_add"  # I = ACC(D(I), events)   (Loihi)
    ADD_THEN_DECAY = "add_then_decay"  # I = D(ACC(I, events))   (Xylo)


class MembraneSum(enum.StrEnum):
    """How the membrane update overflows (semantics v2)."""

    EXACT = "exact"    # v' = OVF(D(v) + J + b)
    STAGED = "staged"  # δ = OVF(D(v) − v + J); δ = OVF(δ + b); v' = OVF(v + δ)   (Xylo)


class Compare(enum.StrEnum):
    """The spike condition: v' ≥ θ or v' > θ."""

    GE = ">="
    GT = ">"


def _enum(field: str, value: Any, kind: type[enum.StrEnum]) -> Any:
    if isinstance(value, kind):
        return value
    choices = "|".join(member.value for member in kind)
    if not isinstance(value, str):
        raise InputTypeError(f"{field} must be one of {choices}, not {value!r}")
    try:
        return kind(value)
    except ValueError:
        raise InputError(f"{field} must be one of {choices}, not {value!r}") from None


def _integer(field: str, value: Any, lo: int, hi: int | None, context: str = "") -> int:
    """Check that `value` is an integer (not a bool, not a float) in ``lo..hi``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InputTypeError(f"{field} must be an integer, not {value!r}")
    value = int(value)
    if value < lo or (hi is not None and value > hi):
        allowed = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        where = f" for {context}" if context else ""
        raise InputError(f"{field} must be in {allowed}{where}, not {value}")
    return value


def _index(field: str, flat_index: int, shape: tuple[int, ...]) -> str:
    return field + "".join(f"[{i}]" for i in np.unravel_index(flat_index, shape))


def _shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape) if len(shape) > 1 else f"length {shape[0]}"


def _integer_array(
    field: str, value: Any, shape: tuple[int, ...], dims: str, lo: int, hi: int, context: str
) -> np.ndarray:
    """Validate a vector or matrix of integers (nested lists or an integer ndarray).

    Returns a read-only int64 array. Errors name the first offending element by its index.
    """
    what = "list" if len(shape) == 1 else "matrix"
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "iu":
            raise InputTypeError(f"{field} must hold integers, not {value.dtype} values")
        if value.shape != shape:
            raise InputError(
                f"{field} must be a {_shape_text(shape)} {what} ({dims}), "
                f"not shape {_shape_text(value.shape) if value.ndim else 'scalar'}"
            )
        flat = value.reshape(-1)
        if flat.size and value.dtype.kind == "u" and flat.max() > np.iinfo(np.int64).max:
            bad = int(np.argmax(flat > np.iinfo(np.int64).max))
            raise InputError(
                f"{_index(field, bad, shape)} must be in {lo}..{hi} for {context}, not {flat[bad]}"
            )
        array = value.astype(np.int64, copy=True)
    else:
        rows = _nested_rows(field, value, shape, dims, what)
        flat_list = [element for row in rows for element in row]
        for i, element in enumerate(flat_list):
            if type(element) is not int:
                if isinstance(element, np.integer):
                    flat_list[i] = int(element)
                else:
                    raise InputTypeError(
                        f"{_index(field, i, shape)} must be an integer, not {element!r}"
                    )
        try:
            array = np.array(flat_list, dtype=np.int64).reshape(shape)
        except OverflowError:
            bad = next(i for i, e in enumerate(flat_list) if not lo <= e <= hi)
            raise InputError(
                f"{_index(field, bad, shape)} must be in {lo}..{hi} for {context}, "
                f"not {flat_list[bad]}"
            ) from None
    out_of_range = (array < lo) | (array > hi)
    if out_of_range.any():
        bad = int(np.argmax(out_of_range.reshape(-1)))
        raise InputError(
            f"{_index(field, bad, shape)} must be in {lo}..{hi} for {context}, "
            f"not {array.reshape(-1)[bad]}"
        )
    array.setflags(write=False)
    return array


def _nested_rows(field: str, value: Any, shape: tuple[int, ...], dims: str, what: str) -> list:
    expected = f"{field} must be a {_shape_text(shape)} {what} of integers ({dims})"
    if not isinstance(value, list | tuple):
        raise InputTypeError(f"{expected}, not {type(value).__name__} {_short(value)}")
    if len(value) != shape[0]:
        count = "entries" if len(shape) == 1 else "rows"
        raise InputError(f"{expected}, not {len(value)} {count}")
    if len(shape) == 1:
        return [value]
    for i, row in enumerate(value):
        if not isinstance(row, list | tuple):
            raise InputTypeError(f"{expected}, but {field}[{i}] is {_short(row)}")
        if len(row) != shape[1]:
            raise InputError(f"{expected}, but {field}[{i}] has {len(row)} entries")
    return value


def _same_array(a: Any, b: Any) -> bool:
    return (a is None) == (b is None) and (a is None or np.array_equal(a, b))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _shape(field: str, value: Any, size: int | None) -> tuple[int, ...]:
    """A shape: 1 to 3 positive integers whose product is `size` (when given)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, list | tuple) or not 1 <= len(value) <= 3:
        raise InputTypeError(f"{field} must be a list of 1 to 3 sizes (C, H, W), not "
                             f"{_short(value)}")
    shape = tuple(_integer(f"{field}[{i}]", v, 1, MAX_NEURONS) for i, v in enumerate(value))
    total = int(np.prod(shape))
    if size is not None and total != size:
        raise InputError(f"{field} {'×'.join(map(str, shape))} holds {total} positions, not the "
                         f"layer's {size} neurons")
    return shape


@dataclasses.dataclass(frozen=True)
class StateFormat:
    """The lattice a membrane state lives on.

    Parameters
    ----------
    bits : int
        State width B, 2..32.
    representation : Representation
        ``signed``: [−2^(B−1), 2^(B−1)−1]; ``unsigned``: [0, 2^B−1].
    overflow : Overflow
        ``saturate`` clamps to the lattice; ``wrap`` reduces modulo 2^B into it.
    rail : Rail
        ``full`` (the default, semantics v1); ``symmetric`` (signed only, format version 3):
        saturate clamps to ±(2^(B−1) − 1); wrap reduces into (−2^(B−1), 2^(B−1)], the window
        Lava's Loihi model wraps its current into.
    """

    bits: int
    representation: Representation = Representation.SIGNED
    overflow: Overflow = Overflow.SATURATE
    rail: Rail = Rail.FULL

    def __post_init__(self) -> None:
        bits = _integer("state_bits", self.bits, MIN_STATE_BITS, MAX_STATE_BITS)
        object.__setattr__(self, "bits", bits)
        object.__setattr__(
            self, "representation", _enum("representation", self.representation, Representation)
        )
        object.__setattr__(self, "overflow", _enum("overflow", self.overflow, Overflow))
        object.__setattr__(self, "rail", _enum("rail", self.rail, Rail))
        if self.rail is Rail.SYMMETRIC and self.representation is not Representation.SIGNED:
            raise InputError("rail symmetric needs a signed representation, not unsigned")

    @property
    def signed(self) -> bool:
        return self.representation is Representation.SIGNED

    @property
    def min(self) -> int:
        if not self.signed:
            return 0
        return -(1 << (self.bits - 1)) + (self.rail is Rail.SYMMETRIC)

    @property
    def max(self) -> int:
        if not self.signed:
            return (1 << self.bits) - 1
        top = (1 << (self.bits - 1)) - 1
        return top + 1 if self.rail is Rail.SYMMETRIC and self.overflow is Overflow.WRAP else top

    @property
    def modulus(self) -> int:
        return 1 << self.bits

    @property
    def storage_bits(self) -> int:
        """Bits a register needs for every lattice value: B, or B + 1 for a symmetric wrapping
        lattice, whose top value 2^(B−1) is one past a signed B-bit register's."""
        return self.bits + (self.max == 1 << (self.bits - 1))

    def describe(self) -> str:
        """``"8-bit signed state"``: the phrase error messages use."""
        rail = " symmetric" if self.rail is Rail.SYMMETRIC else ""
        return f"{self.bits}-bit{rail} {self.representation.value} state"

    def overflow_of(self, values: np.ndarray) -> np.ndarray:
        """OVF: `values` (int64, exact) saturated or wrapped into the lattice."""
        if self.overflow is Overflow.SATURATE:
            return np.clip(values, self.min, self.max)
        return ((values - self.min) & (self.modulus - 1)) + self.min


@dataclasses.dataclass(frozen=True)
class NeuronModel:
    """Leak, threshold and reset, shared by every neuron of a network.

    Parameters
    ----------
    threshold : int
        θ: a neuron spikes when its pre-reset state v' ≥ θ. In the lattice and ≥ 1.
    leak_shift : int or None
        k: the leak is ``v − (v >> k)`` (arithmetic shift); ``None`` means no leak. 1 ≤ k < B.
    reset : Reset
        ``zero`` (to `reset_value`), ``subtract`` (θ) or ``none``.
    reset_value : int
        The state after a spike under ``reset = zero``; in the lattice.

    The ranges depend on the state format, so :class:`Network` checks them.
    """

    threshold: int
    leak_shift: int | None = None
    reset: Reset = Reset.ZERO
    reset_value: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "reset", _enum("reset", self.reset, Reset))
        # Types only: the ranges depend on the state format, which Network checks them against.
        unbounded = -(1 << 64)
        object.__setattr__(self, "threshold", _integer("threshold", self.threshold, unbounded, None))
        if self.leak_shift is not None:
            object.__setattr__(
                self, "leak_shift", _integer("leak_shift", self.leak_shift, unbounded, None)
            )
        object.__setattr__(
            self, "reset_value", _integer("reset_value", self.reset_value, unbounded, None)
        )


@dataclasses.dataclass(frozen=True)
class Layer:
    """A consecutive range of neurons with its own weight width and threshold (format version 2).

    Parameters
    ----------
    name : str
        For reports and error messages; unique in a network.
    size : int
        Neurons in the layer (≥ 1). Layers follow one another: the first holds neurons
        0..size−1, the next the following ones, and together they cover every neuron.
    weight_bits : int
        Signed width of every weight *into* the layer's neurons (the rows of ``weights`` and
        ``input_weights`` of its neurons): at most the network's ``weight_bits``. The generator
        gives the layer's neuron groups synapse memories of this width.
    threshold : int or None
        The layer's θ (and the amount a subtractive reset removes); ``None`` takes the network's
        ``neuron.threshold``. Per-layer thresholds let each layer keep its own quantization scale.
    shape : tuple of int, optional
        C×H×W (or any shape) of the layer's neurons, channel-major: neuron ``first + c·H·W +
        y·W + x`` is position (c, y, x). Format version 4; what a convolution's positions are.
    """

    name: str
    size: int
    weight_bits: int
    threshold: int | None = None
    shape: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InputTypeError(f"layer name must be a non-empty string, not {self.name!r}")
        object.__setattr__(self, "size", _integer(f"layer {self.name!r} neurons", self.size,
                                                  1, MAX_NEURONS))
        object.__setattr__(self, "weight_bits", _integer(
            f"layer {self.name!r} weight_bits", self.weight_bits, MIN_WEIGHT_BITS,
            MAX_WEIGHT_BITS))
        if self.threshold is not None:
            object.__setattr__(self, "threshold", _integer(
                f"layer {self.name!r} threshold", self.threshold, -(1 << 64), None))
        if self.shape is not None:
            object.__setattr__(self, "shape", _shape(f"layer {self.name!r} shape", self.shape,
                                                     self.size))


MAX_SPIKES_PER_STEP = 255
MAX_REFRACTORY = 1 << 16
MAX_BIAS_DELAY = 255
MAX_WEIGHT_SHIFT = 31
MAX_INPUT_COUNT = 255
DECAY_UNITY = 1 << 12  # the multiplicative decay's unit: 12 fraction bits, as Loihi's


def _per_neuron(field: str, value: Any, n: int, lo: int, hi: int, context: str) -> np.ndarray:
    """A scalar (broadcast to every neuron) or a length-N list/array, as a read-only int64 array."""
    if isinstance(value, bool):
        raise InputTypeError(f"{field} must be an integer or a list of N integers, not {value!r}")
    if isinstance(value, int | np.integer):
        _integer(field, value, lo, hi, context)
        array = np.full(n, int(value), dtype=np.int64)
        array.setflags(write=False)
        return array
    return _integer_array(field, value, (n,), "one per neuron", lo, hi, context)


@dataclasses.dataclass(frozen=True, eq=False)
class Current:
    """The synaptic current, a second state per neuron (semantics v2, format version 3).

    Parameters
    ----------
    state : StateFormat
        The current's own lattice (width, representation, overflow, rail).
    decay : Decay
        How the current decays each step.
    decay_parameter : int or array-like of int, shape (N,)
        k for ``shift``/``shift_min1`` (0..B−1), d for ``multiply`` (0..4096), 0 for ``none``.
    order : CurrentOrder
        Decay before (``decay_then_add``) or after (``add_then_decay``) the step's events.
    initial : int or array-like of int, shape (N,)
        I(0), in the current's lattice.
    bias : int or array-like of int, shape (N,)
        b_I, added to the current with the step's events (an NIR Affine's bias in front of a
        CubaLIF), in the current's lattice; 0 by default.
    """

    state: StateFormat
    decay: Decay = Decay.SHIFT
    decay_parameter: Any = 1
    order: CurrentOrder = CurrentOrder.DECAY_THEN_ADD
    initial: Any = 0
    bias: Any = 0

    def __post_init__(self) -> None:
        if not isinstance(self.state, StateFormat):
            raise InputTypeError(f"current state must be a StateFormat, not {self.state!r}")
        object.__setattr__(self, "decay", _enum("current decay", self.decay, Decay))
        object.__setattr__(self, "order", _enum("current order", self.order, CurrentOrder))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Current):
            return NotImplemented
        return (self.state == other.state and self.decay == other.decay
                and self.order == other.order
                and np.array_equal(self.decay_parameter, other.decay_parameter)
                and np.array_equal(self.initial, other.initial)
                and np.array_equal(self.bias, other.bias))

    __hash__ = None  # type: ignore[assignment]


@dataclasses.dataclass(frozen=True, eq=False)
class Dynamics:
    """The neuron-model options of semantics v2 (format version 3); docs/semantics.md.

    A network without ``dynamics`` runs under semantics v1 exactly. With it, ``neuron.leak_shift``
    must be null: the membrane's decay is here.

    Parameters
    ----------
    current : Current, optional
        The synaptic current state; without it events add straight into the membrane (as v1).
    membrane_decay : Decay
        How the membrane decays each step.
    membrane_decay_parameter : int or array-like, shape (N,)
        k for ``shift``/``shift_min1`` (0..B−1), d for ``multiply`` (0..4096), 0 for ``none``.
    accumulate : Accumulate
        ``exact`` or ``per_event`` (needs a current: each event saturates or wraps it on its own).
    membrane_sum : MembraneSum
        ``exact`` (one overflow) or ``staged`` (Xylo's three overflowing adds).
    compare : Compare
        ``>=`` or ``>``.
    max_spikes : int or array-like, shape (N,)
        M, 1..255 spikes per step; M > 1 needs ``reset = subtract`` (repeated subtraction).
    refractory : int or array-like, shape (N,)
        R ≥ 0 steps after a spike during which the membrane is frozen and cannot fire.
    weight_shift, input_weight_shift : int or array-like, shape (N,)
        Left shifts of the recurrent and input weights into each neuron, 0..31.
    input_max_count : int
        The most spikes an input channel may carry in one step (STIM.npz holds counts), 1..255.
    bias_delay : int or array-like, shape (N,)
        Steps 1..bias_delay run without the biases (membrane and current), 0..255: a layer
        ℓ synaptic hops from the inputs gets its first event at step ℓ, so an imported
        feed-forward network delays each layer's bias that long, as its float model does.
    compat : str, optional
        ``"xylo"`` or ``"loihi"``: the chip whose constraints this network was checked against.
    """

    current: Current | None = None
    membrane_decay: Decay = Decay.SHIFT
    membrane_decay_parameter: Any = 4
    accumulate: Accumulate = Accumulate.EXACT
    membrane_sum: MembraneSum = MembraneSum.EXACT
    compare: Compare = Compare.GE
    max_spikes: Any = 1
    refractory: Any = 0
    weight_shift: Any = 0
    input_weight_shift: Any = 0
    input_max_count: int = 1
    compat: str | None = None
    bias_delay: Any = 0

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if self.current is not None and not isinstance(self.current, Current):
            raise InputTypeError(f"current must be a Current or None, not {self.current!r}")
        set_(self, "membrane_decay", _enum("membrane_decay", self.membrane_decay, Decay))
        set_(self, "accumulate", _enum("accumulate", self.accumulate, Accumulate))
        set_(self, "membrane_sum", _enum("membrane_sum", self.membrane_sum, MembraneSum))
        set_(self, "compare", _enum("compare", self.compare, Compare))
        set_(self, "input_max_count", _integer("input_max_count", self.input_max_count, 1,
                                               MAX_INPUT_COUNT))
        if self.compat is not None and self.compat not in ("xylo", "loihi"):
            raise InputError(f"compat must be xylo, loihi or null, not {self.compat!r}")
        if self.accumulate is Accumulate.PER_EVENT and self.current is None:
            raise InputError("accumulate per_event needs a synaptic current (current: {...})")

    def normalized(self, n: int, membrane: StateFormat) -> Dynamics:
        """A copy with every per-neuron field as a validated length-`n` array."""

        def decay_range(decay: Decay, fmt: StateFormat) -> tuple[int, int, str]:
            if decay is Decay.MULTIPLY:
                return 0, DECAY_UNITY, "a multiplicative decay (d/4096)"
            if decay is Decay.NONE:
                return 0, 0, "no decay"
            return 0, fmt.bits - 1, f"a shift decay of a {fmt.bits}-bit state"

        current = self.current
        if current is not None:
            lo, hi, why = decay_range(current.decay, current.state)
            current = Current(
                current.state, current.decay,
                _per_neuron("current decay_parameter", current.decay_parameter, n, lo, hi, why),
                current.order,
                _per_neuron("current initial", current.initial, n, current.state.min,
                            current.state.max, current.state.describe()),
                _per_neuron("current bias", current.bias, n, current.state.min,
                            current.state.max, current.state.describe()))
        lo, hi, why = decay_range(self.membrane_decay, membrane)
        return dataclasses.replace(
            self, current=current,
            membrane_decay_parameter=_per_neuron("membrane_decay_parameter",
                                                 self.membrane_decay_parameter, n, lo, hi, why),
            max_spikes=_per_neuron("max_spikes", self.max_spikes, n, 1, MAX_SPIKES_PER_STEP,
                                   "spikes per step"),
            bias_delay=_per_neuron("bias_delay", self.bias_delay, n, 0, MAX_BIAS_DELAY,
                                   "steps"),
            refractory=_per_neuron("refractory", self.refractory, n, 0, MAX_REFRACTORY,
                                   "steps"),
            weight_shift=_per_neuron("weight_shift", self.weight_shift, n, 0, MAX_WEIGHT_SHIFT,
                                     "a left shift"),
            input_weight_shift=_per_neuron("input_weight_shift", self.input_weight_shift, n, 0,
                                           MAX_WEIGHT_SHIFT, "a left shift"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Dynamics):
            return NotImplemented
        return all(
            np.array_equal(a, b) if isinstance(a, np.ndarray) or isinstance(b, np.ndarray)
            else a == b
            for a, b in ((getattr(self, f.name), getattr(other, f.name))
                         for f in dataclasses.fields(self)))

    __hash__ = None  # type: ignore[assignment]


@dataclasses.dataclass(frozen=True, eq=False)
class Network:
    """A complete, validated integer-state SNN.

    Parameters
    ----------
    state : StateFormat
        The lattice of the membrane state.
    neuron : NeuronModel
        Leak, threshold and reset.
    weight_bits : int
        Bw, 1..32: every weight is a signed Bw-bit integer.
    weights : array-like of int, shape (N, N)
        ``weights[i][j]`` is the synapse from neuron j to neuron i.
    input_weights : array-like of int, shape (N, K)
        ``input_weights[i][c]`` is the synapse from input channel c to neuron i.
    bias : array-like of int, shape (N,), optional
        Added to every neuron's input current every step; in the lattice. Zeros when omitted.
    initial_state : array-like of int, shape (N,), optional
        v(0); in the lattice. Zeros when omitted.
    extra : mapping, optional
        The keys of network.json that snngen keeps without interpreting them (:data:`EXTRA_FIELDS`):
        ``meta`` (anything a user wants to keep with the network) and the provenance snngen
        writes, ``generator``, ``import`` and ``quantization``.
    layers : sequence of Layer, optional
        Splits the neurons into consecutive layers with their own weight widths and thresholds
        (format version 2). Empty (the default): one layer with ``weight_bits`` and
        ``neuron.threshold``, as in version 1.
    neuron_thresholds : array-like of int, shape (N,), optional
        θ of every neuron (format version 2): per-neuron quantization scales. Each in
        max(1, L)..H. Excludes per-layer thresholds (give one or the other).
    dynamics : Dynamics, optional
        The neuron-model options of semantics v2 (format version 3): a synaptic current, decay
        modes, compare, multi-spike, refractory period, weight shifts. None: semantics v1.
    projections : sequence of Projection, optional
        Format version 4: the synapses as structured layers (:mod:`snngen.model.structure`:
        conv2d, sumpool2d, avgpool2d, flatten, dense) between the input and named layers,
        instead of `weights` and `input_weights` (give None for both). The biases are the
        projections' (per channel or per output), so `bias` is None too.
    input_shape : tuple of int, optional
        With projections: the input's shape (C, H, W) or (K,); K is its product.

    Members
    -------
    neurons : int
        N.
    inputs : int
        K.

    All arrays are stored as read-only int64 arrays. Two networks are equal when every field is.
    """

    state: StateFormat
    neuron: NeuronModel
    weight_bits: int
    weights: Any
    input_weights: Any
    bias: Any = None
    initial_state: Any = None
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    layers: tuple[Layer, ...] = ()
    neuron_thresholds: Any = None
    dynamics: Dynamics | None = None
    projections: tuple = ()
    input_shape: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.state, StateFormat):
            raise InputTypeError(f"state must be a StateFormat, not {self.state!r}")
        if not isinstance(self.neuron, NeuronModel):
            raise InputTypeError(f"neuron must be a NeuronModel, not {self.neuron!r}")
        set_ = object.__setattr__
        state = self.state
        lattice = state.describe()
        set_(self, "weight_bits", _integer("weight_bits", self.weight_bits,
                                           MIN_WEIGHT_BITS, MAX_WEIGHT_BITS))
        neuron = self.neuron
        _integer("threshold", neuron.threshold, max(1, state.min), state.max, lattice)
        if neuron.leak_shift is not None:
            _integer("leak_shift", neuron.leak_shift, 1, state.bits - 1,
                     f"{state.bits}-bit state (or null/none for no leak)")
        _integer("reset_value", neuron.reset_value, state.min, state.max, lattice)

        if self.projections:
            self._check_structured()
        else:
            self._check_matrices()
        if self.neuron_thresholds is not None:
            if any(layer.threshold is not None for layer in self.layers):
                raise InputError("give thresholds per layer or per neuron (neuron_thresholds), "
                                 "not both")
            set_(self, "neuron_thresholds", _integer_array(
                "neuron_thresholds", self.neuron_thresholds, (self.neurons,), "one per neuron",
                max(1, state.min), state.max, lattice))
        n = self.neurons
        for field in ("bias", "initial_state"):
            value = getattr(self, field)
            if value is None:
                value = np.zeros(n, dtype=np.int64)
            set_(self, field, _integer_array(
                field, value, (n,), "one per neuron", state.min, state.max, lattice))
        if self.dynamics is not None:
            set_(self, "dynamics", self._check_dynamics(n))
        elif state.rail is not Rail.FULL:
            raise InputError("rail symmetric is a semantics v2 option: it needs dynamics")
        if not isinstance(self.extra, Mapping):
            raise InputTypeError(f"extra must be a mapping, not {self.extra!r}")
        for key in self.extra:
            if key not in EXTRA_FIELDS:
                raise InputError(f"extra field {key!r} must be one of {', '.join(EXTRA_FIELDS)}; "
                                 "free-form data belongs under 'meta'")
        set_(self, "extra", MappingProxyType(dict(self.extra)))
        if self.dynamics is not None and self.dynamics.compat is not None:
            from .compat import check_compat  # the presets are built on this module

            check_compat(self)

    def _check_matrices(self) -> None:
        set_ = object.__setattr__
        if self.input_shape is not None:
            raise InputError("input_shape belongs to a network with projections (format "
                             "version 4), not one with weight matrices")
        weights = self.weights
        if isinstance(weights, np.ndarray) and weights.ndim == 2:
            n = weights.shape[0]
        elif isinstance(weights, list | tuple):
            n = len(weights)
        else:
            raise InputTypeError(f"weights must be an N×N matrix of integers, not {_short(weights)}")
        _integer("neurons", n, 1, MAX_NEURONS)
        inputs = self.input_weights
        if isinstance(inputs, np.ndarray) and inputs.ndim == 2:
            k = inputs.shape[1]
        elif isinstance(inputs, list | tuple) and inputs and isinstance(inputs[0], list | tuple):
            k = len(inputs[0])
        elif isinstance(inputs, list | tuple) and not inputs:
            k = 0
        else:
            raise InputTypeError(
                f"input_weights must be an N×K matrix of integers, not {_short(inputs)}"
            )
        _integer("inputs", k, 0, MAX_INPUTS)
        wlo, whi = -(1 << (self.weight_bits - 1)), (1 << (self.weight_bits - 1)) - 1
        wcontext = f"{self.weight_bits}-bit weights"
        set_(self, "weights", _integer_array(
            "weights", weights, (n, n), "neurons × neurons", wlo, whi, wcontext))
        set_(self, "input_weights", _integer_array(
            "input_weights", inputs, (n, k), "neurons × inputs", wlo, whi, wcontext))
        set_(self, "layers", self._check_layers(n))

    def _check_structured(self) -> None:
        """Projections instead of matrices: names, shapes, weight ranges, and the biases."""
        from .structure import Conv2d, Projection

        set_ = object.__setattr__
        if self.weights is not None or self.input_weights is not None:
            raise InputError("a network with projections gives no weights or input_weights "
                             "matrices (both null): its synapses are the projections'")
        projections = self.projections
        if not isinstance(projections, list | tuple) or not all(
                isinstance(p, Projection) for p in projections):
            raise InputTypeError(f"projections must be a sequence of Projection, not "
                                 f"{_short(projections)}")
        set_(self, "projections", tuple(projections))
        layers = self.layers
        if not layers:
            raise InputError("a network with projections needs layers: projections connect "
                             "named layers")
        if self.input_shape is None:
            raise InputError("a network with projections needs input_shape (C, H, W or K)")
        set_(self, "input_shape", _shape("input_shape", self.input_shape, None))
        n = sum(layer.size for layer in layers) if all(
            isinstance(x, Layer) for x in layers) else 0
        set_(self, "layers", self._check_layers(n))
        _integer("neurons", n, 1, MAX_NEURONS)
        _integer("inputs", int(np.prod(self.input_shape)), 0, MAX_INPUTS)
        spans = {layer.name: (layer, first) for layer, first, _ in self.layer_spans}
        if "input" in spans:
            raise InputError("no layer may be named 'input' in a network with projections: "
                             "the name is the input's")
        bias = np.zeros(n, dtype=np.int64)
        for index, projection in enumerate(self.projections):
            where = f"projections[{index}] ({projection.source} → {projection.target})"
            if projection.source != "input" and projection.source not in spans:
                raise InputError(f"{where}: source must be 'input' or a layer "
                                 f"({', '.join(spans)}), not {projection.source!r}")
            if projection.target not in spans:
                raise InputError(f"{where}: target must be a layer ({', '.join(spans)}), not "
                                 f"{projection.target!r}")
            source_shape = self.input_shape if projection.source == "input" else (
                spans[projection.source][0].shape or (spans[projection.source][0].size,))
            target, first = spans[projection.target]
            out = projection.shapes(source_shape)[-1]
            wanted = target.shape or (target.size,)
            # A flat output fills the target in channel-major order; a C×H×W one must be its
            # shape (a flat target takes any shape of the right size).
            fits = int(np.prod(out)) == target.size and (
                len(out) == 1 or target.shape is None or out == target.shape)
            if not fits:
                raise InputError(f"{where}: its output is {'×'.join(map(str, out))}, the target "
                                 f"layer holds {'×'.join(map(str, wanted))}")
            op = projection.weighted
            lo, hi = -(1 << (target.weight_bits - 1)), (1 << (target.weight_bits - 1)) - 1
            outside = (op.weight < lo) | (op.weight > hi)
            if outside.any():
                bad = int(np.argmax(outside.reshape(-1)))
                raise InputError(f"{where}: {_index(op.kind + ' weight', bad, op.weight.shape)} "
                                 f"must be in {lo}..{hi} for the {target.weight_bits}-bit "
                                 f"weights of layer {target.name!r}, not "
                                 f"{op.weight.reshape(-1)[bad]}")
            if op.bias is not None:
                per_position = np.repeat(op.bias, target.size // op.bias.size) if isinstance(
                    op, Conv2d) else op.bias
                bias[first:first + target.size] += per_position
        # A copy (Network.replace) passes the biases back: those agree with the projections'.
        if self.bias is not None and not np.array_equal(np.asarray(self.bias), bias):
            raise InputError("a network with projections takes its biases from them (conv2d "
                             "and dense bias), not from a bias list")
        set_(self, "bias", bias)

    @property
    def structured(self) -> bool:
        """Whether the synapses are projections (format version 4) rather than matrices."""
        return bool(self.projections)

    def weight_matrices(self) -> tuple[Any, Any]:
        """(W, W_in): the N×N and N×K synapse matrices, dense arrays for a network that lists
        them, scipy sparse CSC arrays (int64, built once) for one with projections."""
        if not self.projections:
            return self.weights, self.input_weights
        cached = self.__dict__.get("_matrices")
        if cached is None:
            cached = self._fanout_matrices()
            object.__setattr__(self, "_matrices", cached)
        return cached

    def _fanout_matrices(self) -> tuple[Any, Any]:
        from scipy import sparse

        from .structure import projection_fanout

        n, k = self.neurons, self.inputs
        spans = {layer.name: (layer, first) for layer, first, _ in self.layer_spans}
        parts = {True: ([], [], []), False: ([], [], [])}
        for projection in self.projections:
            from_input = projection.source == "input"
            if from_input:
                shape, offset = self.input_shape, 0
            else:
                layer, offset = spans[projection.source]
                shape = layer.shape or (layer.size,)
            sources, targets, values = projection_fanout(projection, shape)
            rows, cols, data = parts[from_input]
            rows.append(targets + spans[projection.target][1])
            cols.append(sources + offset)
            data.append(values)

        def matrix(key: bool, columns: int):
            rows, cols, data = parts[key]
            if not rows:
                return sparse.csc_array((n, columns), dtype=np.int64)
            # Duplicate (row, column) pairs (two projections between the same layers) add up.
            built = sparse.coo_array((np.concatenate(data), (np.concatenate(rows),
                                                             np.concatenate(cols))),
                                     shape=(n, columns)).tocsc()
            built.sum_duplicates()
            built.eliminate_zeros()
            return built

        return matrix(False, n), matrix(True, k)

    #: The most entries (N · (N + K)) :meth:`expanded` writes out as dense matrices: 256 MiB.
    MAX_EXPANDED_ENTRIES = 1 << 25

    def expanded(self) -> Network:
        """The same network with every synapse listed (dense matrices, no projections): what
        parts that read matrices (the hardware generator, the chip presets) take.

        Raises InputError when N·(N + K) exceeds :attr:`MAX_EXPANDED_ENTRIES`."""
        if not self.projections:
            return self
        n, k = self.neurons, self.inputs
        if n * (n + k) > self.MAX_EXPANDED_ENTRIES:
            raise InputError(
                f"this network's synapses as dense matrices would be {n:,} × {n + k:,} entries, "
                f"more than the {self.MAX_EXPANDED_ENTRIES:,} snngen expands: convolution "
                "layers run in the golden model; the hardware generator needs a smaller network")
        w, w_in = self.weight_matrices()
        weights, input_weights = w.toarray(), w_in.toarray()
        # Paths that meet (an overlapping pool, two projections between the same layers) add
        # their weights, so a listed synapse may need more bits than the kernels.
        layers = []
        for layer, first, end in self.layer_spans:
            rows = np.concatenate([weights[first:end].ravel(), input_weights[first:end].ravel()])
            low, high = (int(rows.min()), int(rows.max())) if rows.size else (0, 0)
            # b bits hold −2^(b−1)..2^(b−1) − 1.
            need = max(high.bit_length() + 1, (-low - 1).bit_length() + 1 if low < 0 else 1)
            if need > MAX_WEIGHT_BITS:
                raise InputError(f"layer {layer.name!r}: its summed synapses need {need}-bit "
                                 f"weights, more than {MAX_WEIGHT_BITS}")
            layers.append(dataclasses.replace(layer, shape=None,
                                              weight_bits=max(layer.weight_bits, need)))
        return dataclasses.replace(
            self, weights=weights, input_weights=input_weights, bias=self.bias, projections=(),
            input_shape=None, layers=tuple(layers),
            weight_bits=max(self.weight_bits, *(layer.weight_bits for layer in layers)))

    def _check_layers(self, n: int) -> tuple[Layer, ...]:
        layers = self.layers
        if not isinstance(layers, list | tuple) or not all(isinstance(x, Layer) for x in layers):
            raise InputTypeError(f"layers must be a sequence of Layer, not {_short(layers)}")
        layers = tuple(layers)
        if not layers:
            return layers
        names = [layer.name for layer in layers]
        for name in names:
            if names.count(name) > 1:
                raise InputError(f"layer names must be unique, not {name!r} twice")
        total = sum(layer.size for layer in layers)
        if total != n:
            raise InputError(f"layers must cover the {n} neurons exactly, not {total} "
                             f"({' + '.join(str(layer.size) for layer in layers)})")
        state, lattice, first = self.state, self.state.describe(), 0
        for layer in layers:
            where = f"layer {layer.name!r}"
            _integer(f"{where} weight_bits", layer.weight_bits, MIN_WEIGHT_BITS, self.weight_bits,
                     f"a network with weight_bits {self.weight_bits}")
            if layer.threshold is not None:
                _integer(f"{where} threshold", layer.threshold, max(1, state.min), state.max,
                         lattice)
            lo, hi = -(1 << (layer.weight_bits - 1)), (1 << (layer.weight_bits - 1)) - 1
            rows = slice(first, first + layer.size)
            for field in ("weights", "input_weights") if not self.projections else ():
                block = getattr(self, field)[rows]
                outside = (block < lo) | (block > hi)
                if outside.any():
                    i, j = np.unravel_index(int(np.argmax(outside)), block.shape)
                    raise InputError(
                        f"{field}[{first + i}][{j}] must be in {lo}..{hi} for the "
                        f"{layer.weight_bits}-bit weights of {where}, not {block[i, j]}")
            first += layer.size
        return layers

    def _check_dynamics(self, n: int) -> Dynamics:
        dynamics = self.dynamics
        if not isinstance(dynamics, Dynamics):
            raise InputTypeError(f"dynamics must be a Dynamics, not {_short(dynamics)}")
        if self.neuron.leak_shift is not None:
            raise InputError("leak_shift must be null when dynamics are given (the membrane's "
                             "decay is dynamics.membrane_decay), not "
                             f"{self.neuron.leak_shift}")
        dynamics = dynamics.normalized(n, self.state)
        if dynamics.membrane_sum is MembraneSum.STAGED and not self.state.signed:
            raise InputError("membrane_sum staged needs a signed membrane, not unsigned")
        if int(dynamics.max_spikes.max()) > 1 and self.neuron.reset is not Reset.SUBTRACT:
            raise InputError(f"max_spikes above 1 needs reset subtract (repeated subtraction), "
                             f"not reset {self.neuron.reset.value}")
        # Shifted weights and every exact sum stay far inside int64.
        for field, shifts in (("weights", dynamics.weight_shift),
                              ("input_weights", dynamics.input_weight_shift)):
            widest = self.weight_bits + int(shifts.max())
            if widest > 40:
                raise InputError(f"{field} shifted left by {int(shifts.max())} must fit 40 bits, "
                                 f"not {widest} ({self.weight_bits}-bit weights)")
        return dynamics

    @property
    def neurons(self) -> int:
        if self.weights is None:
            return sum(layer.size for layer in self.layers)
        return self.weights.shape[0]

    @property
    def layer_spans(self) -> tuple[tuple[Layer, int, int], ...]:
        """(layer, first neuron, end) of every layer; one implicit layer without ``layers``."""
        if not self.layers:
            return ((Layer("all", self.neurons, self.weight_bits, self.neuron.threshold),
                     0, self.neurons),)
        spans, first = [], 0
        for layer in self.layers:
            spans.append((layer, first, first + layer.size))
            first += layer.size
        return tuple(spans)

    def layer_threshold(self, layer: Layer) -> int:
        """θ of `layer`'s neurons."""
        return self.neuron.threshold if layer.threshold is None else layer.threshold

    @property
    def thresholds(self) -> Any:
        """θ per neuron: an int64 array of shape (N,) with layers or neuron_thresholds, else the
        scalar θ (so it broadcasts against a state of any shape)."""
        if self.neuron_thresholds is not None:
            return self.neuron_thresholds
        if not self.layers:
            return self.neuron.threshold
        values = np.empty(self.neurons, dtype=np.int64)
        for layer, first, end in self.layer_spans:
            values[first:end] = self.layer_threshold(layer)
        values.setflags(write=False)
        return values

    @property
    def inputs(self) -> int:
        if self.input_weights is None:
            return int(np.prod(self.input_shape))
        return self.input_weights.shape[1]

    @property
    def weight_min(self) -> int:
        return -(1 << (self.weight_bits - 1))

    @property
    def weight_max(self) -> int:
        return (1 << (self.weight_bits - 1)) - 1

    @property
    def synapses(self) -> int:
        """Number of non-zero recurrent and input synapses (a projection's once expanded)."""
        if self.projections:
            w, w_in = self.weight_matrices()
            return int(w.nnz + w_in.nnz)
        return int(np.count_nonzero(self.weights) + np.count_nonzero(self.input_weights))

    def scalar_fields(self) -> dict[str, Any]:
        """The scalar fields of network.json, in its order (JSON-ready values)."""
        return {
            "neurons": self.neurons,
            "inputs": self.inputs,
            "state_bits": self.state.bits,
            "weight_bits": self.weight_bits,
            "representation": self.state.representation.value,
            "overflow": self.state.overflow.value,
            "leak_shift": self.neuron.leak_shift,
            "threshold": self.neuron.threshold,
            "reset": self.neuron.reset.value,
            "reset_value": self.neuron.reset_value,
        }

    def replace(self, **changes: Any) -> Network:
        """A copy with some fields changed, validated again."""
        return dataclasses.replace(self, **changes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Network):
            return NotImplemented
        return (
            self.state == other.state
            and self.neuron == other.neuron
            and self.weight_bits == other.weight_bits
            and _same_array(self.weights, other.weights)
            and _same_array(self.input_weights, other.input_weights)
            and self.projections == other.projections
            and self.input_shape == other.input_shape
            and np.array_equal(self.bias, other.bias)
            and np.array_equal(self.initial_state, other.initial_state)
            and dict(self.extra) == dict(other.extra)
            and self.layers == other.layers
            and (self.neuron_thresholds is None) == (other.neuron_thresholds is None)
            and (self.neuron_thresholds is None
                 or np.array_equal(self.neuron_thresholds, other.neuron_thresholds))
            and self.dynamics == other.dynamics
        )

    __hash__ = None  # type: ignore[assignment]

    def _structure_text(self) -> str:
        if not self.projections:
            return ""
        return ", projections " + "; ".join(
            f"{p.source} → {' → '.join(op.kind for op in p.ops)} → {p.target}"
            for p in self.projections)

    def describe(self) -> str:
        leak = "no leak" if self.neuron.leak_shift is None else f"leak >>{self.neuron.leak_shift}"
        layers = "" if not self.layers else ", layers " + " / ".join(
            f"{layer.name} {layer.size}×{layer.weight_bits}b" + (
                "" if self.neuron_thresholds is not None
                else f" θ{self.layer_threshold(layer)}") for layer in self.layers)
        if self.neuron_thresholds is not None:
            layers += (f", θ per neuron {int(self.neuron_thresholds.min())}.."
                       f"{int(self.neuron_thresholds.max())}")
        d = self.dynamics
        if d is not None:
            current = "no current" if d.current is None else (
                f"current {d.current.state.describe().replace(' state', '')} "
                f"({d.current.state.overflow.value}, {d.current.decay.value} decay, "
                f"{d.current.order.value})")
            preset = "" if d.compat is None else f", compat {d.compat}"
            leak = (f"{d.membrane_decay.value} decay, {current}, {d.accumulate.value} events, "
                    f"{d.membrane_sum.value} sum, v {d.compare.value} θ, up to "
                    f"{int(d.max_spikes.max())} spike(s) a step, refractory "
                    f"{int(d.refractory.max())}{preset}")
        return (
            f"{self.neurons} neurons, {self.inputs} inputs, {self.state.describe()} "
            f"({self.state.overflow.value}), {self.weight_bits}-bit weights, {leak}, "
            f"threshold {self.neuron.threshold}, reset {self.neuron.reset.value}, "
            f"{self.synapses} synapses{layers}{self._structure_text()}"
        )


# ---------------------------------------------------------------------------------------------
# network.json

_FIELDS = (
    "format", "version", "neurons", "inputs", "state_bits", "weight_bits", "representation",
    "overflow", "leak_shift", "threshold", "reset", "reset_value", "weights", "input_weights",
    "bias", "initial_state", "layers", "neuron_thresholds", "rail", "dynamics", "input_shape",
    "projections",
)
#: Top-level keys kept without interpretation: free-form `meta`, and snngen's provenance records.
EXTRA_FIELDS = ("meta", "generator", "import", "quantization")
#: Optional fields that may be left out but are never null (null is not a default).
_NEVER_NULL = ("reset_value", "bias", "initial_state", "layers", "neuron_thresholds", "rail",
               "dynamics", "input_shape", "projections")
_REQUIRED = tuple(f for f in _FIELDS if f not in _NEVER_NULL)
#: A network with projections (version 4) lists no matrices: its synapses are the projections'.
_MATRIX_FIELDS = ("weights", "input_weights", "bias")
_DYNAMICS_FIELDS = ("current", "membrane_decay", "membrane_decay_parameter", "accumulate",
                    "membrane_sum", "compare", "max_spikes", "refractory", "weight_shift",
                    "input_weight_shift", "input_max_count", "compat", "bias_delay")
_CURRENT_FIELDS = ("state_bits", "representation", "overflow", "rail", "decay",
                   "decay_parameter", "order", "initial", "bias")
_LAYER_FIELDS = ("name", "neurons", "weight_bits", "threshold", "shape")
_PROJECTION_FIELDS = ("source", "target", "ops")
_OP_FIELDS = {
    "conv2d": ("kind", "weight", "stride", "padding", "dilation", "groups", "bias"),
    "dense": ("kind", "weight", "bias"),
    "sumpool2d": ("kind", "kernel", "stride", "padding"),
    "avgpool2d": ("kind", "kernel", "stride", "padding"),
    "flatten": ("kind",),
}


def network_from_json(document: Any) -> Network:
    """Build a :class:`Network` from the parsed JSON object of a network.json file."""
    if not isinstance(document, dict):
        raise InputTypeError(
            f"a network must be a JSON object, not {type(document).__name__} {_short(document)}"
        )
    if document.get("format") != FORMAT_NAME:
        raise InputError(f"format must be {FORMAT_NAME!r}, not {document.get('format')!r}")
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version not in READ_VERSIONS:
        raise InputError(f"version must be 1, 2, 3 or 4, not {version!r}")
    for key in ("layers", "neuron_thresholds"):
        if version == 1 and key in document:
            raise InputError(f"{key} need version 2, not version 1")
    for key in ("rail", "dynamics"):
        if version < 3 and key in document:
            raise InputError(f"{key} needs version 3, not version {version}")
    for key in ("projections", "input_shape"):
        if version < 4 and key in document:
            raise InputError(f"{key} needs version 4, not version {version}")
    structured = "projections" in document
    if structured:
        for key in _MATRIX_FIELDS:
            if key in document:
                raise InputError(f"{key} must be left out of a network with projections: its "
                                 "synapses and biases are the projections'")
    for key in document:
        if key not in _FIELDS and key not in EXTRA_FIELDS:
            raise InputError(_unknown_field("", key, (*_FIELDS, *EXTRA_FIELDS))
                             + "; free-form data belongs under 'meta'")
    for key in _NEVER_NULL:
        if key in document and document[key] is None:
            raise InputError(f"{key} must be left out for its default, not null")
    missing = [f for f in _REQUIRED if f not in document
               and not (structured and f in _MATRIX_FIELDS)]
    if missing:
        raise InputError(f"field {missing[0]!r} is missing (required: {', '.join(_REQUIRED[2:])})")
    neurons = _integer("neurons", document["neurons"], 1, MAX_NEURONS)
    inputs = _integer("inputs", document["inputs"], 0, MAX_INPUTS)
    state = StateFormat(
        bits=document["state_bits"],
        representation=document["representation"],
        overflow=document["overflow"],
        rail=document.get("rail", "full"),
    )
    neuron = NeuronModel(
        threshold=document["threshold"],
        leak_shift=document["leak_shift"],
        reset=document["reset"],
        reset_value=document.get("reset_value", 0),
    )
    weight_bits = _integer("weight_bits", document["weight_bits"], MIN_WEIGHT_BITS, MAX_WEIGHT_BITS)
    extra = {k: v for k, v in document.items() if k in EXTRA_FIELDS}
    if structured:
        network = Network(
            layers=_layers_from_json(document.get("layers", [])),
            neuron_thresholds=document.get("neuron_thresholds"),
            state=state, neuron=neuron, weight_bits=weight_bits, weights=None,
            input_weights=None, initial_state=document.get("initial_state"), extra=extra,
            dynamics=_dynamics_from_json(document["dynamics"]) if "dynamics" in document
            else None,
            projections=_projections_from_json(document["projections"]),
            input_shape=document.get("input_shape"))
        for field, value in (("neurons", network.neurons), ("inputs", network.inputs)):
            if document[field] != value:
                raise InputError(f"{field} must be {value} (what the layers and input_shape "
                                 f"hold), not {document[field]}")
        return network
    wlo, whi = -(1 << (weight_bits - 1)), (1 << (weight_bits - 1)) - 1
    wcontext = f"{weight_bits}-bit weights"
    weights = _integer_array("weights", document["weights"], (neurons, neurons),
                             "neurons × neurons", wlo, whi, wcontext)
    input_weights = document["input_weights"]
    if inputs == 0 and input_weights == []:
        input_weights = np.zeros((neurons, 0), dtype=np.int64)
    input_weights = _integer_array("input_weights", input_weights, (neurons, inputs),
                                   "neurons × inputs", wlo, whi, wcontext)
    return Network(
        layers=_layers_from_json(document.get("layers", [])),
        neuron_thresholds=document.get("neuron_thresholds"),
        state=state,
        neuron=neuron,
        weight_bits=weight_bits,
        weights=weights,
        input_weights=input_weights,
        bias=document.get("bias"),
        initial_state=document.get("initial_state"),
        extra=extra,
        dynamics=_dynamics_from_json(document["dynamics"]) if "dynamics" in document else None,
    )


def _unknown_field(where: str, key: str, allowed: tuple[str, ...]) -> str:
    """The message for an unknown key, with a "did you mean" for a near miss."""
    import difflib

    near = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.75)
    hint = f" (did you mean {near[0]!r}?)" if near else f" (allowed: {', '.join(allowed)})"
    return f"{where + ' has an' if where else 'an'} unknown field {key!r}{hint}"


def _check_keys(where: str, entry: dict, allowed: tuple[str, ...]) -> None:
    unknown = [key for key in entry if key not in allowed]
    if unknown:
        raise InputError(_unknown_field(where, unknown[0], allowed))


def _dynamics_from_json(value: Any) -> Dynamics:
    if not isinstance(value, dict):
        raise InputTypeError(f"dynamics must be an object, not {_short(value)}")
    _check_keys("dynamics", value, _DYNAMICS_FIELDS)
    current = value.get("current")
    if current is not None:
        if not isinstance(current, dict):
            raise InputTypeError(f"dynamics current must be an object or null, not "
                                 f"{_short(current)}")
        _check_keys("dynamics current", current, _CURRENT_FIELDS)
        if "state_bits" not in current:
            raise InputError("dynamics current is missing 'state_bits'")
        current = Current(
            StateFormat(current["state_bits"], current.get("representation", "signed"),
                        current.get("overflow", "saturate"), current.get("rail", "full")),
            current.get("decay", "shift"), current.get("decay_parameter", 1),
            current.get("order", "decay_then_add"), current.get("initial", 0),
            current.get("bias", 0))
    defaults = Dynamics()
    fields = {key: value.get(key, getattr(defaults, key)) for key in _DYNAMICS_FIELDS[1:]}
    return Dynamics(current=current, **fields)


def _compact(values: np.ndarray) -> Any:
    """A per-neuron array as network.json writes it: one integer when every neuron shares it."""
    if values.size and (values == values[0]).all():
        return int(values[0])
    return [int(v) for v in values]


def _dynamics_to_json(dynamics: Dynamics) -> str:
    current = None
    if dynamics.current is not None:
        c = dynamics.current
        current = {"state_bits": c.state.bits, "representation": c.state.representation.value,
                   "overflow": c.state.overflow.value, "rail": c.state.rail.value,
                   "decay": c.decay.value, "decay_parameter": _compact(c.decay_parameter),
                   "order": c.order.value, "initial": _compact(c.initial)}
        if c.bias.any():
            current["bias"] = _compact(c.bias)
    fields = {
        "current": current,
        "membrane_decay": dynamics.membrane_decay.value,
        "membrane_decay_parameter": _compact(dynamics.membrane_decay_parameter),
        "accumulate": dynamics.accumulate.value,
        "membrane_sum": dynamics.membrane_sum.value,
        "compare": dynamics.compare.value,
        "max_spikes": _compact(dynamics.max_spikes),
        "refractory": _compact(dynamics.refractory),
        "weight_shift": _compact(dynamics.weight_shift),
        "input_weight_shift": _compact(dynamics.input_weight_shift),
        "input_max_count": dynamics.input_max_count,
        "compat": dynamics.compat,
    }
    if dynamics.bias_delay.any():
        fields["bias_delay"] = _compact(dynamics.bias_delay)
    return "{\n" + ",\n".join(f"    {json.dumps(k)}: {json.dumps(v)}"
                               for k, v in fields.items()) + "\n  }"


def _layers_from_json(value: Any) -> tuple[Layer, ...]:
    if not isinstance(value, list):
        raise InputTypeError(f"layers must be a list of objects, not {_short(value)}")
    layers = []
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise InputTypeError(f"layers[{i}] must be an object, not {_short(entry)}")
        unknown = [key for key in entry if key not in _LAYER_FIELDS]
        if unknown:
            raise InputError(f"layers[{i}] has an unknown field {unknown[0]!r} "
                             f"(allowed: {', '.join(_LAYER_FIELDS)})")
        missing = [key for key in _LAYER_FIELDS[:3] if key not in entry]
        if missing:
            raise InputError(f"layers[{i}] is missing {missing[0]!r}")
        if "shape" in entry and entry["shape"] is None:
            raise InputError(f"layers[{i}] shape must be left out for a flat layer, not null")
        layers.append(Layer(entry["name"], entry["neurons"], entry["weight_bits"],
                            entry.get("threshold"), entry.get("shape")))
    return tuple(layers)


def _tensor(field: str, value: Any, ndim: int, what: str) -> np.ndarray:
    """Nested lists of integers, `ndim` deep and not ragged, as an int64 array."""
    if not isinstance(value, list):
        raise InputTypeError(f"{field} must be {what} (nested lists of integers), not "
                             f"{_short(value)}")
    try:
        array = np.asarray(value)
    except (ValueError, OverflowError):
        raise InputError(f"{field} must be {what}: its rows differ in length or it holds "
                         "integers beyond 64 bits") from None
    if array.ndim != ndim or array.dtype.kind not in "iu":
        kind = {"b": "true/false", "f": "non-integer numbers", "U": "strings",
                "O": "mixed or huge values"}.get(array.dtype.kind, array.dtype.name)
        raise InputError(f"{field} must be {what} of integers, not "
                         + (f"{array.ndim}-deep lists" if array.ndim != ndim else kind))
    return array.astype(np.int64)


def _projections_from_json(value: Any) -> tuple:
    from .structure import Conv2d, Dense, Flatten, Projection, SumPool2d

    if not isinstance(value, list) or not value:
        raise InputTypeError(f"projections must be a non-empty list of objects, not "
                             f"{_short(value)}")
    projections = []
    for i, entry in enumerate(value):
        where = f"projections[{i}]"
        if not isinstance(entry, dict):
            raise InputTypeError(f"{where} must be an object, not {_short(entry)}")
        _check_keys(where, entry, _PROJECTION_FIELDS)
        missing = [key for key in _PROJECTION_FIELDS if key not in entry]
        if missing:
            raise InputError(f"{where} is missing {missing[0]!r}")
        if not isinstance(entry["ops"], list) or not entry["ops"]:
            raise InputTypeError(f"{where} ops must be a non-empty list, not "
                                 f"{_short(entry['ops'])}")
        ops = []
        for j, op in enumerate(entry["ops"]):
            at = f"{where} ops[{j}]"
            if not isinstance(op, dict):
                raise InputTypeError(f"{at} must be an object, not {_short(op)}")
            kind = op.get("kind")
            if kind not in _OP_FIELDS:
                raise InputError(f"{at} kind must be one of {', '.join(_OP_FIELDS)}, not "
                                 f"{kind!r}")
            _check_keys(f"{at} ({kind})", op, _OP_FIELDS[kind])
            for key in op:
                if op[key] is None:
                    raise InputError(f"{at} {key} must be left out for its default, not null")
            try:
                if kind == "flatten":
                    ops.append(Flatten())
                elif kind in ("sumpool2d", "avgpool2d"):
                    if "kernel" not in op:
                        raise InputError("kernel is missing")
                    ops.append(SumPool2d(op["kernel"], op.get("stride"), op.get("padding", 0),
                                         average=kind == "avgpool2d"))
                elif "weight" not in op:
                    raise InputError("weight is missing")
                elif kind == "conv2d":
                    bias = op.get("bias")
                    ops.append(Conv2d(
                        _tensor("weight", op["weight"], 4, "a C_out×C_in×kh×kw array"),
                        op.get("stride", 1), op.get("padding", 0), op.get("dilation", 1),
                        op.get("groups", 1),
                        None if bias is None else _tensor("bias", bias, 1, "a list")))
                else:
                    bias = op.get("bias")
                    ops.append(Dense(_tensor("weight", op["weight"], 2, "an outputs×inputs "
                                             "matrix"),
                                     None if bias is None else _tensor("bias", bias, 1,
                                                                       "a list")))
            except InputError as error:
                raise type(error)(f"{at} ({kind}): {error}") from None
        projections.append(Projection(entry["source"], entry["target"], tuple(ops)))
    return tuple(projections)


def _op_to_json(op) -> str:
    from .structure import Conv2d, Dense, SumPool2d

    fields: dict[str, Any] = {"kind": op.kind}
    if isinstance(op, SumPool2d):
        fields.update(kernel=list(op.kernel), stride=list(op.stride), padding=list(op.padding))
    elif isinstance(op, Conv2d):
        fields.update(stride=list(op.stride), padding=list(op.padding),
                      dilation=list(op.dilation), groups=op.groups)
    if isinstance(op, Conv2d | Dense):
        if op.bias is not None:
            fields["bias"] = [int(b) for b in op.bias]
        fields["weight"] = op.weight.tolist()
    return json.dumps(fields, separators=(", ", ": "))


def network_to_json(network: Network) -> str:
    """The network.json text of `network`: deterministic, one matrix row per line."""

    def row(values: np.ndarray) -> str:
        return "[" + ", ".join(str(int(v)) for v in values) + "]"

    def matrix(values: np.ndarray) -> str:
        if values.shape[0] == 0:
            return "[]"
        return "[\n    " + ",\n    ".join(row(r) for r in values) + "\n  ]"

    if network.structured or any(layer.shape is not None for layer in network.layers):
        version = 4
    elif network.dynamics is not None:
        version = 3
    else:
        version = 2 if network.layers or network.neuron_thresholds is not None else 1
    scalars = {"format": FORMAT_NAME, "version": version, **network.scalar_fields()}
    if version >= 3:
        scalars["rail"] = network.state.rail.value
    lines = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in scalars.items()]
    if network.structured:
        lines.append(f'  "input_shape": {json.dumps(list(network.input_shape))}')
        entries = [
            f'{{"source": {json.dumps(p.source)}, "target": {json.dumps(p.target)}, "ops": [\n'
            + ",\n".join("      " + _op_to_json(op) for op in p.ops) + "]}"
            for p in network.projections]
        lines.append('  "projections": [\n    ' + ",\n    ".join(entries) + "\n  ]")
    else:
        lines.append(f'  "weights": {matrix(network.weights)}')
        lines.append(f'  "input_weights": {matrix(network.input_weights)}')
        lines.append(f'  "bias": {row(network.bias)}')
    lines.append(f'  "initial_state": {row(network.initial_state)}')
    if network.layers:
        entries = [json.dumps({"name": layer.name, "neurons": layer.size,
                               "weight_bits": layer.weight_bits, "threshold": layer.threshold}
                              | ({"shape": list(layer.shape)} if layer.shape else {}))
                   for layer in network.layers]
        lines.append('  "layers": [\n    ' + ",\n    ".join(entries) + "\n  ]")
    if network.neuron_thresholds is not None:
        lines.append(f'  "neuron_thresholds": {row(network.neuron_thresholds)}')
    if network.dynamics is not None:
        lines.append(f'  "dynamics": {_dynamics_to_json(network.dynamics)}')
    for key in sorted(network.extra):
        lines.append(f"  {json.dumps(key)}: {json.dumps(network.extra[key], sort_keys=True)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InputError(f"field {key!r} appears twice")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise InputError(f"{name} is not a valid JSON number")


# A network.json of 16,384 neurons at density 0.1 is about 100 MiB of text.
MAX_NETWORK_FILE_BYTES = 512 << 20


def load_network(path: str | os.PathLike) -> Network:
    """Read and validate a network.json file.

    Raises
    ------
    InputError
        With the file name and the field at fault, for anything from unreadable files to
        out-of-range weights.
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise InputError(f"{path}: not a regular file (a device, pipe or socket), "
                                 "not a network.json file")
            text = file.read(MAX_NETWORK_FILE_BYTES + 1)
            if len(text) > MAX_NETWORK_FILE_BYTES:
                raise InputError(f"{path}: larger than {MAX_NETWORK_FILE_BYTES >> 20} MiB, "
                                 "the limit of a network.json file")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a network.json file") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text file") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read: {error.strerror}") from None
    try:
        document = json.loads(
            text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
        )
    except json.JSONDecodeError as error:
        raise InputError(
            f"{path}: not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except InputError as error:
        raise InputError(f"{path}: {error}") from None
    except RecursionError:
        raise InputError(f"{path}: nested too deeply (a network.json is at most a few levels "
                         "deep)") from None
    except ValueError as error:
        if "digits" in str(error):
            raise InputError(f"{path}: holds an integer of more than "
                             f"{sys.get_int_max_str_digits()} digits") from None
        raise InputError(f"{path}: not valid JSON: {error}") from None
    try:
        return network_from_json(document)
    except InputError as error:
        raise type(error)(f"{path}: {error}") from None


def save_network(network: Network, path: str | os.PathLike) -> None:
    """Write `network` to `path` atomically (a temporary file renamed into place)."""
    atomic_write_text(path, network_to_json(network))
