"""The golden model against the independent scalar reference (tests/reference.py)."""

import numpy as np
import pytest
import reference
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from strategies import network_documents, runs

from snngen.model.golden import simulate, simulate_batch
from snngen.model.network import network_from_json


def ref_run(doc, steps, x):
    spikes, state = reference.run(doc, steps, x.tolist())
    n = doc["neurons"]
    return (np.array(spikes, dtype=np.uint8).reshape(steps, n),
            np.array(state, dtype=np.int64).reshape(steps, n))


@given(runs())
def test_dense_matches_reference(run):
    doc, steps, x = run
    trace = simulate(network_from_json(doc), steps, x, method="dense")
    spikes, state = ref_run(doc, steps, x)
    assert_array_equal(trace.spikes, spikes)
    assert_array_equal(trace.state, state)


@given(runs())
def test_event_matches_reference(run):
    doc, steps, x = run
    trace = simulate(network_from_json(doc), steps, x, method="event")
    spikes, state = ref_run(doc, steps, x)
    assert_array_equal(trace.spikes, spikes)
    assert_array_equal(trace.state, state)


@given(runs(documents=network_documents(
    max_neurons=6, bits=st.integers(17, 32), weight_bits=st.integers(17, 32))))
def test_wide_widths_match_reference(run):
    """Up to 32-bit states and weights: the float64 and int64 summation paths stay exact."""
    doc, steps, x = run
    network = network_from_json(doc)
    spikes, state = ref_run(doc, steps, x)
    for method in ("dense", "event"):
        trace = simulate(network, steps, x, method=method)
        assert_array_equal(trace.spikes, spikes)
        assert_array_equal(trace.state, state)


@given(st.lists(runs(max_steps=25), min_size=1, max_size=5), st.integers(1, 25))
def test_batch_matches_reference(run_list, steps):
    """Networks of different sizes, widths and options in one batch."""
    docs = [doc for doc, _, _ in run_list]
    inputs = []
    for doc, _, x in run_list:
        padded = np.zeros((steps, doc["inputs"]), np.uint8)
        rows = min(steps, x.shape[0])
        padded[:rows] = x[:rows]
        inputs.append(padded)
    batch = simulate_batch([network_from_json(d) for d in docs], steps, inputs)
    for index, (doc, x) in enumerate(zip(docs, inputs, strict=True)):
        spikes, state = ref_run(doc, steps, x)
        trace = batch.trace(index)
        assert_array_equal(trace.spikes, spikes)
        assert_array_equal(trace.state, state)
        assert not batch.spikes[index, :, doc["neurons"]:].any()


def test_batch_without_state_records_same_spikes():
    from snngen.model.generate import random_network
    nets = [random_network(neurons=n, bits=b, seed=n + b) for n, b in ((5, 4), (17, 8), (9, 16))]
    full = simulate_batch(nets, 50)
    spikes_only = simulate_batch(nets, 50, record_state=False)
    assert spikes_only.state is None
    assert_array_equal(full.spikes, spikes_only.spikes)
    assert full.state.dtype == np.int16
    with pytest.raises(ValueError, match="record_state"):
        spikes_only.trace(0)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("bits", [4, 8, 16])
def test_methods_agree_on_generated_networks(seed, bits):
    """Larger networks than hypothesis draws: dense, event and batch give one trace."""
    from snngen.model.generate import random_network
    network = random_network(neurons=130, bits=bits, density=0.5, seed=seed)
    x = (np.random.default_rng(seed).random((300, network.inputs)) < 0.1).astype(np.uint8)
    dense = simulate(network, 300, x, method="dense")
    event = simulate(network, 300, x, method="event")
    batch = simulate_batch([network], 300, [x]).trace(0)
    assert_array_equal(dense.spikes, event.spikes)
    assert_array_equal(dense.state, event.state)
    assert_array_equal(dense.state, batch.state)
    assert 0 < dense.firing_rate < 1


def test_reference_agrees_on_a_generated_network():
    """One full-size case through the scalar reference itself (N = 130, 8 bits)."""
    import json

    from snngen.model.generate import random_network
    from snngen.model.network import network_to_json
    network = random_network(neurons=130, bits=8, density=0.5, seed=7)
    doc = json.loads(network_to_json(network))
    x = (np.random.default_rng(7).random((60, network.inputs)) < 0.2).astype(np.uint8)
    spikes, state = ref_run(doc, 60, x)
    trace = simulate(network, 60, x)
    assert_array_equal(trace.spikes, spikes)
    assert_array_equal(trace.state, state)


@pytest.mark.parametrize("method", ["dense", "event", "batch"])
def test_integer_summation_path(monkeypatch, method):
    """The int64 path, normally taken only when a float could round (|sums| ≥ 2**53)."""
    import snngen.model.golden as golden
    monkeypatch.setattr(golden, "_sum_dtype", lambda bound: np.int64)
    monkeypatch.setattr(golden, "_FLOAT64_EXACT", 0)

    @given(runs())
    def check(run):
        doc, steps, x = run
        network = network_from_json(doc)
        if method == "batch":
            trace = simulate_batch([network], steps, [x]).trace(0)
        else:
            trace = simulate(network, steps, x, method=method)
        spikes, state = ref_run(doc, steps, x)
        assert_array_equal(trace.spikes, spikes)
        assert_array_equal(trace.state, state)

    check()
