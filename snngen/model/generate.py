"""Seeded random networks (``snngen network``).

The recipe (docs/network-format.md, "Random networks") scales every magnitude to the chosen widths, so
that the defaults give irregular, non-trivial activity at every bit width:

* a fraction `density` of the off-diagonal recurrent weights is non-zero (no self-loops); signs are
  balanced (half excitatory, half inhibitory); magnitudes are uniform in 1..w_max with
  w_max = min(2^(Bw−1) − 1, θ/2) so that two coincident spikes can fire a neuron from rest;
* input weights: half non-zero, same magnitudes, positive;
* bias: uniform in 0..b_max with b_max = max(1, 2θ/2^k) (θ/8 without leak), so about half the neurons are
  tonically active (a leaky neuron with bias b settles at b·2^k, above θ when b > θ/2^k);
* initial state: uniform in max(lattice min, −θ)..θ−1.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError, InputTypeError
from .network import (
    Network,
    NeuronModel,
    Overflow,
    Representation,
    Reset,
    StateFormat,
)

__all__ = ["DEFAULTS", "default_leak_shift", "default_threshold", "random_network"]

DEFAULTS = {
    "neurons": 128,
    "inputs": 8,
    "bits": 8,
    "density": 0.2,
    "seed": 0,
    "reset": Reset.SUBTRACT,
    "reset_value": 0,
    "overflow": Overflow.SATURATE,
    "representation": Representation.SIGNED,
}


def default_leak_shift(bits: int) -> int:
    """k = 4, or B − 1 when B ≤ 4 (k must stay below B)."""
    return min(4, bits - 1)


def default_threshold(state: StateFormat) -> int:
    """θ at a quarter of the lattice's upper half: 2^(B−3) signed, 2^(B−2) unsigned (at least 1)."""
    return max(1, (state.max + 1) // 4)


def random_network(
    neurons: int = DEFAULTS["neurons"],
    inputs: int = DEFAULTS["inputs"],
    bits: int = DEFAULTS["bits"],
    weight_bits: int | None = None,
    density: float = DEFAULTS["density"],
    seed: int = DEFAULTS["seed"],
    leak_shift: int | str | None = "default",
    threshold: int | None = None,
    reset: Reset | str = DEFAULTS["reset"],
    reset_value: int = DEFAULTS["reset_value"],
    overflow: Overflow | str = DEFAULTS["overflow"],
    representation: Representation | str = DEFAULTS["representation"],
) -> Network:
    """A seeded random network; the same arguments always give the same network.

    Parameters
    ----------
    neurons, inputs : int
        N ≥ 1 and K ≥ 0.
    bits : int
        State width B.
    weight_bits : int, optional
        Bw; defaults to B (capped at 16).
    density : float
        Fraction of the N(N−1) off-diagonal recurrent weights that are non-zero, 0..1.
    seed : int
        Seed of numpy's PCG64 generator, ≥ 0.
    leak_shift : int, None or "default"
        k, or None for no leak; "default" is :func:`default_leak_shift`.
    threshold : int, optional
        θ; defaults to :func:`default_threshold`.
    reset, reset_value, overflow, representation
        As in :class:`~snngen.model.network.NeuronModel` and :class:`~snngen.model.network.StateFormat`.
    """
    state = StateFormat(bits, representation, overflow)
    if weight_bits is None:
        weight_bits = min(state.bits, 16)
    if leak_shift == "default":
        leak_shift = default_leak_shift(state.bits)
    if threshold is None:
        threshold = default_threshold(state)
    if isinstance(density, bool) or not isinstance(density, int | float):
        raise InputTypeError(f"density must be a number in 0..1, not {density!r}")
    if not 0.0 <= density <= 1.0:
        raise InputError(f"density must be in 0..1, not {density}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"seed must be an integer >= 0, not {seed!r}")
    for name, value, lo in (("neurons", neurons, 1), ("inputs", inputs, 0)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputTypeError(f"{name} must be an integer, not {value!r}")
        if value < lo or value > 1 << 14:
            raise InputError(f"{name} must be in {lo}..{1 << 14} for a generated network, not {value}")
    neuron = NeuronModel(threshold=threshold, leak_shift=leak_shift, reset=reset,
                         reset_value=reset_value)
    # Validate widths, threshold and reset value against each other before drawing anything.
    Network(state, neuron, weight_bits, np.zeros((1, 1), np.int64), np.zeros((1, 0), np.int64))

    rng = np.random.default_rng(seed)
    w_max = max(1, min((1 << (weight_bits - 1)) - 1, threshold // 2))
    if weight_bits == 1:
        # The only non-zero 1-bit weight is −1.
        magnitudes = np.ones((neurons, neurons), np.int64)
        signs = -np.ones((neurons, neurons), np.int64)
    else:
        magnitudes = rng.integers(1, w_max + 1, size=(neurons, neurons))
        signs = np.where(rng.random((neurons, neurons)) < 0.5, 1, -1)
    connected = rng.random((neurons, neurons)) < density
    np.fill_diagonal(connected, False)
    weights = np.where(connected, signs * magnitudes, 0)

    input_magnitudes = rng.integers(1, w_max + 1, size=(neurons, inputs))
    input_connected = rng.random((neurons, inputs)) < 0.5
    input_sign = -1 if weight_bits == 1 else 1
    input_weights = np.where(input_connected, input_sign * input_magnitudes, 0)

    b_max = 2 * threshold >> leak_shift if leak_shift is not None else threshold // 8
    b_max = min(max(1, b_max), state.max)
    bias = rng.integers(max(0, state.min), max(0, state.min) + b_max + 1, size=neurons)
    low = max(state.min, -threshold)
    initial_state = rng.integers(low, threshold, size=neurons)
    return Network(
        state=state,
        neuron=neuron,
        weight_bits=weight_bits,
        weights=weights,
        input_weights=input_weights,
        bias=bias,
        initial_state=initial_state,
        extra={"generator": {"density": density, "seed": seed, "recipe": "snngen-random-v1"}},
    )
