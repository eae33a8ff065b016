"""Exact orbit detection of the full state (v, s)."""

import numpy as np
import pytest
from hypothesis import given
from strategies import network_documents

from snngen.model.golden import Orbit, find_orbit, simulate
from snngen.model.network import Network, NeuronModel, StateFormat, network_from_json


def brute_force_orbit(initial_state, state, spikes):
    """O(T²): the first t whose full state equals an earlier one."""
    states = [(tuple(initial_state), (0,) * len(initial_state))]
    states += [(tuple(v), tuple(s)) for v, s in zip(state.tolist(), spikes.tolist(), strict=True)]
    for t in range(1, len(states)):
        for earlier in range(t):
            if states[earlier] == states[t]:
                return Orbit(transient=earlier, period=t - earlier)
    return None


def test_counter_neuron_has_a_known_orbit():
    # v: 0 → 1 → 2 → 3 → 4 (spike, reset to 0) → 1 …; (0, s=1) differs from (0, s=0).
    network = Network(StateFormat(8), NeuronModel(threshold=4, reset="zero"), 8,
                      [[0]], [[]], bias=[1], initial_state=[0])
    trace = simulate(network, 20)
    assert find_orbit(network.initial_state, trace.state, trace.spikes) == Orbit(1, 4)


def test_fixed_point_from_the_start():
    network = Network(StateFormat(4), NeuronModel(threshold=3, leak_shift=1), 4,
                      [[0, 0], [0, 0]], [[], []], initial_state=[0, 0])
    trace = simulate(network, 5)
    assert find_orbit(network.initial_state, trace.state, trace.spikes) == Orbit(0, 1)


def test_no_repeat_within_the_horizon():
    network = Network(StateFormat(16, overflow="wrap"), NeuronModel(threshold=30000), 4,
                      [[0]], [[]], bias=[1], initial_state=[0])
    trace = simulate(network, 100)
    assert find_orbit(network.initial_state, trace.state, trace.spikes) is None


def test_wrapping_counter_period_is_the_lattice_size():
    # Without reset below θ, a wrapping counter visits every one of the 2**B states.
    network = Network(StateFormat(6, "unsigned", "wrap"), NeuronModel(threshold=63, reset="none"),
                      4, [[0]], [[]], bias=[1], initial_state=[0])
    trace = simulate(network, 200)
    assert find_orbit(network.initial_state, trace.state, trace.spikes) == Orbit(0, 64)


@given(network_documents(max_neurons=4, bits=__import__("hypothesis").strategies.integers(2, 5)))
def test_matches_brute_force(doc):
    network = network_from_json(doc)
    trace = simulate(network, 60)
    orbit = find_orbit(network.initial_state, trace.state, trace.spikes)
    assert orbit == brute_force_orbit(network.initial_state.tolist(), trace.state, trace.spikes)
    if orbit is not None:
        # The orbit really repeats from there on, as far as the trace reaches.
        mu, lam = orbit.transient, orbit.period
        full_v = np.vstack([network.initial_state, trace.state])
        full_s = np.vstack([np.zeros(network.neurons, np.uint8), trace.spikes])
        for t in range(mu, trace.steps + 1 - lam):
            assert np.array_equal(full_v[t], full_v[t + lam])
            assert np.array_equal(full_s[t], full_s[t + lam])


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_small_lattices_always_recur(bits):
    """N neurons of B bits have at most 2**(N·(B+1)) states: a long enough run must repeat."""
    from snngen.model.generate import random_network
    network = random_network(neurons=2, inputs=0, bits=bits, seed=bits)
    bound = 2 ** (2 * (bits + 1))
    trace = simulate(network, bound + 1)
    orbit = find_orbit(network.initial_state, trace.state, trace.spikes)
    assert orbit is not None
    assert orbit.transient + orbit.period <= bound
