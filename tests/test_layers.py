"""Layered networks (format version 2): per-layer weight widths and thresholds.

The golden model against the scalar reference, the RTL (Amaranth, Icarus, Verilator) against the
golden model, the plan's layer-pure groups and narrower synapse memories, and the file format
(version 1 still read, bad layers rejected with the field named).
"""

import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from rtl_cases import stimulus
from strategies import layered_documents, runs
from test_golden import ref_run as reference_run
from test_rtl_amaranth import assert_bit_exact, rtl_run

from snngen.errors import InputError
from snngen.hw.plan import plan_hardware
from snngen.model.golden import simulate, simulate_batch
from snngen.model.network import (
    Layer,
    Network,
    NeuronModel,
    StateFormat,
    load_network,
    network_from_json,
    network_to_json,
    save_network,
)
from snngen.synth.tools import find_iverilog, find_verilator
from snngen.verify.cosim import run_cocotb


def layered_network(seed=0, sizes=(6, 5, 3), bits=(8, 4, 2), state_bits=10, inputs=4,
                    thresholds=(40, 9, 3), reset="subtract", overflow="saturate"):
    """A feed-forward chain input → L0 → L1 → L2 with each layer's weights at its width."""
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    weights = np.zeros((n, n), dtype=np.int64)
    input_weights = np.zeros((n, inputs), dtype=np.int64)
    first = 0
    layers = []
    for index, (size, width, threshold) in enumerate(zip(sizes, bits, thresholds, strict=True)):
        lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
        rows = slice(first, first + size)
        if index == 0:
            input_weights[rows] = rng.integers(lo, hi + 1, size=(size, inputs))
        else:
            previous = slice(first - sizes[index - 1], first)
            weights[rows, previous] = rng.integers(lo, hi + 1, size=(size, sizes[index - 1]))
        layers.append(Layer(f"L{index}", size, width, threshold))
        first += size
    state = StateFormat(state_bits, "signed", overflow)
    return Network(state=state, neuron=NeuronModel(threshold=thresholds[0], leak_shift=3,
                                                   reset=reset),
                   weight_bits=max(bits), weights=weights, input_weights=input_weights,
                   bias=rng.integers(0, 3, size=n), layers=layers)


# ---- format ---------------------------------------------------------------------------------

def test_version_2_round_trip(tmp_path):
    network = layered_network()
    path = tmp_path / "net.json"
    save_network(network, path)
    document = json.loads(path.read_text())
    assert document["version"] == 2
    assert [layer["weight_bits"] for layer in document["layers"]] == [8, 4, 2]
    assert load_network(path) == network
    assert network_to_json(load_network(path)) == path.read_text()


def test_a_network_without_layers_is_still_version_1():
    network = layered_network().replace(layers=())
    assert json.loads(network_to_json(network))["version"] == 1
    assert network_from_json(json.loads(network_to_json(network))) == network


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.update(version=1), "layers need version 2"),
    (lambda d: d["layers"][0].update(neurons=5), "layers must cover the 14 neurons exactly"),
    (lambda d: d["layers"][1].update(weight_bits=9),
     "layer 'L1' weight_bits must be in 1..8 for a network with weight_bits 8, not 9"),
    (lambda d: d["layers"][2].update(weight_bits=1),
     "must be in -1..0 for the 1-bit weights of layer 'L2', not"),
    (lambda d: d["layers"][1].update(threshold=600),
     "layer 'L1' threshold must be in 1..511 for 10-bit signed state, not 600"),
    (lambda d: d["layers"][1].update(name="L0"), "layer names must be unique"),
    (lambda d: d["layers"][0].update(colour="red"), "layers[0] has an unknown field 'colour'"),
    (lambda d: d["layers"][0].pop("weight_bits"), "layers[0] is missing 'weight_bits'"),
    (lambda d: d.update(version=5), "version must be 1, 2, 3 or 4, not 5"),
])
def test_bad_layers_name_the_field(change, message):
    document = json.loads(network_to_json(layered_network()))
    change(document)
    with pytest.raises(InputError, match=re.escape(message)):
        network_from_json(document)


def test_per_neuron_thresholds_round_trip_and_exclude_layer_thresholds(tmp_path):
    network = layered_network()
    per_neuron = network.replace(
        layers=tuple(Layer(x.name, x.size, x.weight_bits) for x in network.layers),
        neuron_thresholds=np.arange(1, network.neurons + 1) * 7)
    path = tmp_path / "net.json"
    save_network(per_neuron, path)
    assert load_network(path) == per_neuron
    assert_array_equal(load_network(path).thresholds, np.arange(1, 15) * 7)
    with pytest.raises(InputError, match="per layer or per neuron"):
        network.replace(neuron_thresholds=np.ones(network.neurons, dtype=np.int64))
    with pytest.raises(InputError, match=re.escape("neuron_thresholds[3] must be in 1..511")):
        per_neuron.replace(neuron_thresholds=np.array([5, 5, 5, 0, *[5] * 10]))


# ---- golden model ---------------------------------------------------------------------------

@given(runs(documents=layered_documents()))
def test_golden_matches_reference_with_layers(run):
    doc, steps, x = run
    spikes, state = reference_run(doc, steps, x)
    network = network_from_json(doc)
    for method in ("dense", "event"):
        trace = simulate(network, steps, x, method=method)
        assert_array_equal(trace.spikes, spikes)
        assert_array_equal(trace.state, state)
    batch = simulate_batch([network], steps, [x]).trace(0)
    assert_array_equal(batch.spikes, spikes)
    assert_array_equal(batch.state, state)


@given(runs())
def test_per_neuron_thresholds_without_layers_match_reference(run):
    """neuron_thresholds alone (no layers) are honoured by every engine, batched included."""
    doc, steps, x = run
    rng = np.random.default_rng(steps)
    hi = (1 << doc["state_bits"]) - 1 if doc["representation"] == "unsigned" else \
        (1 << (doc["state_bits"] - 1)) - 1
    doc = {**doc, "version": 2,
           "neuron_thresholds": rng.integers(1, hi + 1, size=doc["neurons"]).tolist()}
    spikes, state = reference_run(doc, steps, x)
    network = network_from_json(doc)
    assert not network.layers
    for trace in (simulate(network, steps, x, method="dense"),
                  simulate(network, steps, x, method="event"),
                  simulate_batch([network], steps, [x]).trace(0)):
        assert_array_equal(trace.spikes, spikes)
        assert_array_equal(trace.state, state)


def test_per_layer_thresholds_change_behaviour():
    """A threshold per layer is honoured, not the network's one: raising L1's stops it firing."""
    network = layered_network(thresholds=(40, 9, 3))
    inputs = stimulus(1, 30, network.inputs, rate=0.6)
    quiet = network.replace(layers=tuple(
        Layer(layer.name, layer.size, layer.weight_bits, 511 if layer.name == "L1" else
              layer.threshold) for layer in network.layers))
    busy, silent = simulate(network, 30, inputs), simulate(quiet, 30, inputs)
    assert busy.spikes[:, 6:11].any()
    assert not silent.spikes[:, 6:11].any()


# ---- hardware plan --------------------------------------------------------------------------

def test_groups_are_layer_pure_with_the_layer_width():
    network = layered_network()
    plan = plan_hardware(network, 5)
    assert plan.segments[0][:2] == (0, 6) and sum(s[3] for s in plan.segments) == 5
    spans = network.layer_spans
    for group in plan.group_plans:
        layer = next(layer for layer, first, end in spans if first <= group.members[0] < end)
        first, end = next((f, e) for lay, f, e in spans if lay is layer)
        assert all(first <= m < end for m in group.members)
        assert plan.group_weight_width(group.index) <= layer.weight_bits
        assert group.threshold == layer.threshold
    for neuron in range(network.neurons):
        group, slot = plan.group_of(neuron)
        assert plan.neuron_of(group, slot) == neuron


def test_narrower_layers_get_narrower_synapse_memories():
    """The same connectivity stored at 8/4/2 bits takes fewer synapse-memory bits than at 8/8/8."""
    mixed = layered_network(bits=(8, 4, 2))
    widths = [8, 4, 2]
    plan = plan_hardware(mixed, None)
    assert plan.groups == 3
    assert plan.weight_widths == tuple(widths)
    uniform = plan_hardware(mixed.replace(layers=tuple(
        Layer(layer.name, layer.size, 8, layer.threshold) for layer in mixed.layers)), None)
    # Weights are the same integers, so the widths follow the values, not only the declaration.
    assert plan.memory_bits()["synapses"] == uniform.memory_bits()["synapses"]
    assert plan.memory_bits()["synapses"] < plan_hardware(
        mixed.replace(layers=()), 3).memory_bits()["synapses"]


def test_energy_counts_each_groups_own_depth():
    """The energy estimate updates the slots a group holds: a layer-pure plan sweeps Σ depth a
    step, not groups × the deepest group, and reads each layer's accumulator width."""
    from snngen.quant.energy import inference_metrics

    network = layered_network(sizes=(6, 5, 3))
    plan = plan_hardware(network, None)
    depths = [g.depth for g in plan.group_plans]
    assert len(set(depths)) > 1
    inputs = np.stack([stimulus(seed, 12, network.inputs, rate=0.5) for seed in (1, 2)])
    spikes = np.stack([simulate(network, 12, sample).spikes for sample in inputs])
    metrics = inference_metrics(plan, inputs, spikes)
    assert metrics["neuron_updates"] == 12 * sum(depths) < 12 * plan.groups * max(depths)
    assert metrics["sops"] > 0 and metrics["energy_pj"]["total"] > 0


def test_too_few_groups_for_the_layers_is_a_clear_error():
    with pytest.raises(InputError, match="groups must be at least 3 \\(one per layer\\) for a "
                                         "network with 3 layers, not 2"):
        plan_hardware(layered_network(), 2)


# ---- RTL: Amaranth --------------------------------------------------------------------------

@pytest.mark.parametrize("groups", [None, 4, 7])
@pytest.mark.parametrize(("reset", "overflow"), [("subtract", "saturate"), ("zero", "wrap"),
                                                 ("none", "saturate")])
def test_rtl_layered_chain(groups, reset, overflow):
    network = layered_network(seed=3, reset=reset, overflow=overflow)
    inputs = stimulus(3, 20, network.inputs, rate=0.5)
    expected, _ = assert_bit_exact(network, groups, 20, inputs)
    assert expected.spikes[:, 11:].any(), "the last layer never fires: the case is too quiet"


@pytest.mark.parametrize("groups", [3, 6])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_rtl_per_neuron_thresholds(groups, reset):
    network = layered_network(seed=6, reset=reset)
    rng = np.random.default_rng(6)
    network = network.replace(
        layers=tuple(Layer(x.name, x.size, x.weight_bits) for x in network.layers),
        # Around each layer's own scale (40, 9, 3), different for every neuron.
        neuron_thresholds=np.concatenate([rng.integers(20, 60, size=6), rng.integers(4, 12, 5),
                                          rng.integers(1, 4, 3)]))
    plan = plan_hardware(network, groups)
    assert plan.per_slot_thresholds
    inputs = stimulus(6, 20, network.inputs, rate=0.5)
    expected, _ = assert_bit_exact(network, groups, 20, inputs)
    assert expected.spikes[:, 11:].any()


@pytest.mark.parametrize("groups", [1, 4])
def test_rtl_per_neuron_thresholds_without_layers(groups):
    network = layered_network(seed=7).replace(layers=())
    network = network.replace(neuron_thresholds=np.random.default_rng(7).integers(
        3, 60, size=network.neurons))
    assert plan_hardware(network, groups).per_slot_thresholds
    inputs = stimulus(7, 20, network.inputs, rate=0.5)
    expected, _ = assert_bit_exact(network, groups, 20, inputs)
    assert expected.spikes.any()


def test_rtl_layered_host_port_reads():
    network = layered_network(seed=4)
    inputs = stimulus(4, 8, network.inputs, rate=0.5)
    expected = simulate(network, 8, inputs)
    by_port = rtl_run(network, 5, 8, inputs, read_states="port")
    assert_array_equal(by_port.state, expected.state)


@settings(max_examples=25, deadline=None)
@given(layered_documents(max_neurons=9), st.integers(0, 2), st.integers(1, 12),
       st.integers(0, 2**16))
def test_rtl_random_layered_networks(doc, extra_groups, steps, seed):
    network = network_from_json(doc)
    groups = min(len(network.layers) + extra_groups, network.neurons)
    inputs = stimulus(seed, steps, network.inputs, rate=0.4)
    assert_bit_exact(network, groups, steps, inputs)


# ---- RTL: Icarus and Verilator --------------------------------------------------------------

@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
def test_cocotb_layered_chain(tmp_path, simulator):
    try:
        (find_iverilog if simulator == "icarus" else find_verilator)()
    except InputError as error:
        pytest.skip(str(error))
    network = layered_network(seed=5)
    inputs = stimulus(5, 16, network.inputs, rate=0.5)
    expected = simulate(network, 16, inputs)
    result = run_cocotb(network, 16, inputs, simulator=simulator, build_dir=tmp_path / "build",
                        groups=4)
    assert result.failed == 0, result.mismatches
    assert_array_equal(result.run.spikes, expected.spikes)
    assert_array_equal(result.run.state, expected.state)


# ---- the board link -------------------------------------------------------------------------

def test_simulated_board_runs_a_layered_network(tmp_path, capsys):
    """`snngen run NET.json --port sim`: the board core (one group per layer) behind the UART
    host link, bit-exact with the golden model through the per-layer neuron-id split."""
    from snngen.cli import main

    path = tmp_path / "layered.json"
    save_network(layered_network(seed=3), path)
    assert main(["run", str(path), "--port", "sim", "--steps", "5", "--out",
                 str(tmp_path / "t.npz")]) == 0
    assert "bit-exact" in capsys.readouterr().out
