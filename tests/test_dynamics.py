"""Semantics v2 (format version 3): the golden model against the scalar reference, every option.

``ref_*`` is tests/reference.py's ``run_v2`` (written from docs/semantics.md alone); the golden
model's dense, event and batched engines must equal it bit for bit: spikes (counts), membrane and
synaptic current at every step.
"""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from reference import run_v2
from strategies import v3_documents

from snngen import InputError, simulate, simulate_batch
from snngen.model.compat import random_compat_network
from snngen.model.network import network_from_json, network_to_json


def ref_run(doc, steps, x):
    spikes, state, current = run_v2(doc, steps, x.tolist())
    return np.array(spikes), np.array(state), np.array(current)


def stimulus(doc, steps, seed):
    count = doc["dynamics"]["input_max_count"]
    return np.random.default_rng(seed).integers(0, count + 1, size=(steps, doc["inputs"]))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(v3_documents(), st.integers(1, 30), st.integers(0, 2**32 - 1))
def test_every_option_matches_the_scalar_reference(doc, steps, seed):
    network = network_from_json(doc)
    x = stimulus(doc, steps, seed)
    spikes, state, current = ref_run(doc, steps, x)
    for method in ("dense", "event"):
        trace = simulate(network, steps, x, method=method)
        assert_array_equal(trace.spikes, spikes)
        assert_array_equal(trace.state, state)
        if doc["dynamics"]["current"] is not None:
            assert_array_equal(trace.current, current)
        else:
            assert trace.current is None
    batch = simulate_batch([network, network], steps, [x, x])
    assert_array_equal(batch.trace(1).state, state)
    assert_array_equal(batch.trace(0).spikes, spikes)


@settings(max_examples=60, deadline=None)
@given(v3_documents())
def test_version_3_round_trips_byte_identically(doc):
    network = network_from_json(doc)
    text = network_to_json(network)
    again = network_from_json(json.loads(text))
    assert again == network
    assert network_to_json(again) == text


@pytest.mark.parametrize("decay", ["shift", "shift_min1", "multiply", "none"])
@pytest.mark.parametrize("overflow", ["saturate", "wrap"])
@pytest.mark.parametrize("rail", ["full", "symmetric"])
def test_every_4_bit_state_and_input_exhaustively(decay, overflow, rail):
    """One 4-bit neuron with a 4-bit current: all 16 × 16 start states, every input count."""
    from strategies import lattice_v3

    lo, hi = lattice_v3(4, "signed", overflow, rail)
    clo, chi = lattice_v3(4, "signed", overflow, rail)
    parameter = {"none": 0, "multiply": 1500}.get(decay, 1)
    for order in ("decay_then_add", "add_then_decay"):
        for accumulate, staged in (("exact", "exact"), ("per_event", "staged")):
            for v0 in range(lo, hi + 1):
                doc = {
                    "format": "snngen-network", "version": 3, "neurons": 2, "inputs": 1,
                    "state_bits": 4, "weight_bits": 4, "representation": "signed",
                    "overflow": overflow, "rail": rail, "leak_shift": None, "threshold": 3,
                    "reset": "subtract", "reset_value": 0, "weights": [[0, 7], [-8, 0]],
                    "input_weights": [[5], [-3]], "bias": [1, -1], "initial_state": [v0, 0],
                    "dynamics": {
                        "current": {"state_bits": 4, "representation": "signed",
                                    "overflow": overflow, "rail": rail, "decay": decay,
                                    "decay_parameter": parameter, "order": order,
                                    "initial": list(range(clo, chi + 1))[:2]},
                        "membrane_decay": decay, "membrane_decay_parameter": parameter,
                        "accumulate": accumulate, "membrane_sum": staged, "compare": ">=",
                        "max_spikes": [2, 3], "refractory": [0, 1], "weight_shift": 0,
                        "input_weight_shift": 0, "input_max_count": 3, "compat": None}}
                network = network_from_json(doc)
                x = np.array([[3], [1], [0], [2], [3], [0]])
                spikes, state, current = ref_run(doc, 6, x)
                trace = simulate(network, 6, x)
                assert_array_equal(trace.spikes, spikes)
                assert_array_equal(trace.state, state)
                assert_array_equal(trace.current, current)


@pytest.mark.parametrize("compat", ["xylo", "loihi"])
def test_presets_match_the_reference_too(compat):
    network = random_compat_network(compat, neurons=7, inputs=3, seed=4, readout=2)
    doc = json.loads(network_to_json(network))
    x = stimulus(doc, 40, 1)
    spikes, state, current = ref_run(doc, 40, x)
    trace = simulate(network, 40, x)
    assert_array_equal(trace.spikes, spikes)
    assert_array_equal(trace.state, state)
    assert_array_equal(trace.current, current)


def test_versions_1_and_2_are_written_as_before():
    from snngen.model.generate import random_network

    network = random_network(neurons=6, inputs=2, seed=3)
    assert '"version": 1' in network_to_json(network)
    assert '"dynamics"' not in network_to_json(network)


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["dynamics"].update(max_spikes=4) or d.update(reset="zero"),
     "max_spikes above 1 needs reset subtract"),
    (lambda d: d["dynamics"].update(accumulate="per_event", current=None),
     "accumulate per_event needs a synaptic current"),
    (lambda d: d.update(leak_shift=3), "leak_shift must be null when dynamics are given"),
    (lambda d: d["dynamics"].update(membrane_decay="multiply", membrane_decay_parameter=5000),
     "membrane_decay_parameter must be in 0..4096"),
    (lambda d: d["dynamics"].update(compare="=>"), "compare must be one of >=|>"),
    (lambda d: d["dynamics"].update(spikes=3), "dynamics has an unknown field 'spikes'"),
    (lambda d: d.update(version=2), "needs version 3, not version 2"),
    (lambda d: d["dynamics"].update(compat="spinnaker"), "compat must be xylo, loihi or null"),
])
def test_bad_dynamics_are_refused_with_one_line(change, message):
    doc = json.loads(network_to_json(random_compat_network("loihi", neurons=3, inputs=1)))
    doc["dynamics"]["compat"] = None
    change(doc)
    with pytest.raises(InputError, match=message.replace("|", r"\|").replace("(", r"\(")):
        network_from_json(doc)


def test_a_preset_outside_the_chip_is_refused():
    doc = json.loads(network_to_json(random_compat_network("xylo", neurons=4, inputs=2)))
    doc["dynamics"]["membrane_decay_parameter"] = 0
    with pytest.raises(InputError, match=r"compat xylo needs dash_mem in 1\.\.15"):
        network_from_json(doc)


def test_input_counts_above_the_limit_are_refused():
    network = random_compat_network("xylo", neurons=4, inputs=2)
    with pytest.raises(InputError, match=r"inputs\[0\]\[1\] must be a spike count in 0..15"):
        simulate(network, 2, np.array([[0, 16], [0, 0]]))
