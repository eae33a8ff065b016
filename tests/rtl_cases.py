"""Networks for the RTL regressions: seeded, small, and busy enough to exercise every path."""

import itertools

import numpy as np

from snngen.model.network import Network, NeuronModel, StateFormat

BITS = (4, 8, 16)
REPRESENTATIONS = ("signed", "unsigned")
OVERFLOWS = ("saturate", "wrap")
RESETS = ("zero", "subtract", "none")


def random_case(seed, bits, representation, overflow, reset, neurons=9, inputs=3,
                density=0.5, weight_bits=None):
    """A random network whose weights span the full weight range, so overflow happens."""
    rng = np.random.default_rng(seed)
    state = StateFormat(bits, representation, overflow)
    weight_bits = weight_bits or min(bits, 8)
    w_lo, w_hi = -(1 << (weight_bits - 1)), (1 << (weight_bits - 1)) - 1
    weights = rng.integers(w_lo, w_hi + 1, size=(neurons, neurons))
    weights *= rng.random((neurons, neurons)) < density
    input_weights = rng.integers(w_lo, w_hi + 1, size=(neurons, inputs))
    threshold = int(rng.integers(1, max(2, state.max // 3)))
    leak = [None, *range(1, bits)][int(rng.integers(0, bits))]
    return Network(
        state=state,
        neuron=NeuronModel(threshold=threshold, leak_shift=leak, reset=reset,
                           reset_value=int(rng.integers(state.min, state.max + 1))),
        weight_bits=weight_bits,
        weights=weights,
        input_weights=input_weights,
        bias=rng.integers(state.min, state.max + 1, size=neurons) // 4,
        initial_state=rng.integers(state.min, state.max + 1, size=neurons),
    )


def semantics_matrix():
    """Every combination of bits × representation × overflow × reset, with G and inputs rotating
    so that each G in {1, 2, 4, N} and both input settings meet every option value."""
    cases = []
    for index, (bits, representation, overflow, reset) in enumerate(
            itertools.product(BITS, REPRESENTATIONS, OVERFLOWS, RESETS)):
        groups = (1, 2, 4, "N")[index % 4]
        with_inputs = (index // 4) % 2 == 0
        cases.append((index, bits, representation, overflow, reset, groups, with_inputs))
    return cases


def stimulus(seed, steps, inputs, rate=0.3):
    return (np.random.default_rng(seed + 1000).random((steps, inputs)) < rate).astype(np.uint8)


def full_load_network(neurons=10, inputs=2, bits=8, density=0.8, seed=0):
    """Every neuron fires every step: maximal bias, zero reset, excitatory weights."""
    rng = np.random.default_rng(seed)
    state = StateFormat(bits, "signed", "saturate")
    weights = rng.integers(1, 8, size=(neurons, neurons)) * (rng.random((neurons, neurons)) < density)
    return Network(
        state=state,
        neuron=NeuronModel(threshold=state.max // 2, leak_shift=None, reset="zero"),
        weight_bits=8,
        weights=weights,
        input_weights=rng.integers(1, 8, size=(neurons, inputs)),
        bias=np.full(neurons, state.max),
        initial_state=np.zeros(neurons, dtype=np.int64),
    )
