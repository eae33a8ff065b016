"""Every state × every input current × every mode of a 4-bit neuron, against the reference."""

import itertools

import numpy as np
import pytest
import reference
from numpy.testing import assert_array_equal

from snngen.model.golden import neuron_update, simulate
from snngen.model.network import Network, NeuronModel, StateFormat

BITS = 4


def lattice(representation):
    return reference.lattice(BITS, representation)


def modes():
    for representation, overflow, reset in itertools.product(
        ("signed", "unsigned"), ("saturate", "wrap"), ("zero", "subtract", "none")
    ):
        lo, hi = lattice(representation)
        reset_values = sorted({lo, 0, hi}) if reset == "zero" else [0]
        for leak_shift, threshold, reset_value in itertools.product(
            (None, 1, 2, 3), range(max(1, lo), hi + 1), reset_values
        ):
            yield representation, overflow, reset, leak_shift, threshold, reset_value


def ref_update(v, current, mode):
    representation, overflow, reset, leak_shift, threshold, reset_value = mode
    return reference.update_neuron(v, current, BITS, representation, overflow, leak_shift,
                                   threshold, reset, reset_value)


@pytest.mark.parametrize("representation", ["signed", "unsigned"])
def test_every_state_and_current(representation):
    lo, hi = lattice(representation)
    states = np.arange(lo, hi + 1)
    # Currents spanning three times the lattice both ways: several wraps in each direction.
    currents = np.arange(-3 << BITS, (3 << BITS) + 1)
    v_grid, i_grid = np.meshgrid(states, currents, indexing="ij")
    checked = 0
    for mode in modes():
        if mode[0] != representation:
            continue
        rep, overflow, reset, leak_shift, threshold, reset_value = mode
        network = Network(
            StateFormat(BITS, rep, overflow),
            NeuronModel(threshold=threshold, leak_shift=leak_shift, reset=reset,
                        reset_value=reset_value),
            weight_bits=8, weights=[[0]], input_weights=[[]],
        )
        got_v, got_s = neuron_update(network, v_grid, i_grid)
        expected = [ref_update(int(v), int(i), mode) for v, i in zip(
            v_grid.ravel(), i_grid.ravel(), strict=True)]
        assert_array_equal(got_v.ravel(), [e[0] for e in expected])
        assert_array_equal(got_s.ravel(), [e[1] for e in expected])
        checked += 1
    assert checked > 100


@pytest.mark.parametrize("reset", ["zero", "subtract", "none"])
@pytest.mark.parametrize("overflow", ["saturate", "wrap"])
def test_every_initial_state_through_simulate(overflow, reset):
    """The network path (bias as the current) agrees with the scalar update for every v(0)."""
    lo, hi = lattice("signed")
    for bias, v0 in itertools.product(range(lo, hi + 1), range(lo, hi + 1)):
        network = Network(
            StateFormat(BITS, "signed", overflow),
            NeuronModel(threshold=3, leak_shift=2, reset=reset, reset_value=-2),
            weight_bits=4, weights=[[0]], input_weights=[[]], bias=[bias], initial_state=[v0],
        )
        trace = simulate(network, 3)
        v = v0
        for t in range(3):
            v, spiked = reference.update_neuron(v, bias, BITS, "signed", overflow, 2, 3, reset, -2)
            assert trace.state[t, 0] == v
            assert trace.spikes[t, 0] == spiked
