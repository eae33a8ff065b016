"""Semantics v2 in hardware: the generated core against the golden model, bit for bit.

Shape (from Glasgow): ``ref_run`` from the golden model, ``rtl_run`` from Amaranth's simulator,
compared with assert_array_equal on every spike, membrane and synaptic current of every step:
an exhaustive 4-bit sweep of (v, I) start states under every pair of decay modes, a matrix of
the remaining options, hypothesis over random version-3 networks (every option), the Loihi and
Xylo presets, and multi-spike neurons without a preset.
"""

import dataclasses
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from strategies import v3_documents
from test_rtl_amaranth import assert_bit_exact as assert_rtl_bit_exact
from test_rtl_amaranth import ref_run, rtl_run

from snngen.hw.emit import generate
from snngen.hw.plan import plan_hardware
from snngen.model.compat import random_compat_network
from snngen.model.golden import simulate
from snngen.model.network import (
    Current,
    Dynamics,
    Network,
    NeuronModel,
    StateFormat,
    network_from_json,
)
from snngen.verify.amaranth import run_amaranth

DECAYS = ("none", "shift", "shift_min1", "multiply")


def assert_bit_exact(network, groups, steps, inputs, **options):
    """test_rtl_amaranth's check (spikes, states, currents, the stream protocol), and the cycle
    model's serial bound."""
    expected, got = assert_rtl_bit_exact(network, groups, steps, inputs, **options)
    plan = plan_hardware(network, groups)
    for t in range(1, steps):
        # The serial schedule bounds every step with recurrent synaptic events; a step driven
        # by inputs alone can take a cycle or two more, in semantics v1 alike
        # (docs/architecture.md).
        no_inputs = np.zeros_like(inputs[t])
        if sum(plan.step_events(expected.spikes[t - 1], no_inputs)[1]):
            assert got.cycles[t] <= plan.serial_step_cycles(expected.spikes[t - 1], inputs[t],
                                                             expected.spikes[t])
    return expected, got


def _parameters(mode, bits, rng, n):
    """Per-neuron decay parameters spanning the mode's range, ends included."""
    if mode == "none":
        return 0
    if mode == "multiply":
        return rng.choice([0, 1, 2048, 4095, 4096], size=n)
    return rng.integers(0, bits, size=n)


def exhaustive_case(index, membrane_decay, current_decay):
    """Every (v, I) pair of 4-bit lattices as one neuron each, the other options rotating."""
    options = list(itertools.product(("saturate", "wrap"), ("full", "symmetric"), (">=", ">"),
                                     ("exact", "staged"), ("decay_then_add", "add_then_decay")))
    overflow, rail, compare, membrane_sum, order = options[index * 7 % len(options)]
    membrane = StateFormat(4, "signed", overflow, rail)
    current = StateFormat(4, "signed", ("wrap", "saturate")[index % 2], ("full", "symmetric")[
        index // 2 % 2])
    vs = np.arange(membrane.min, membrane.max + 1)
    currents = np.arange(current.min, current.max + 1)
    v, i = (grid.ravel() for grid in np.meshgrid(vs, currents, indexing="ij"))
    n = len(v)
    rng = np.random.default_rng(index)
    dynamics = Dynamics(
        current=Current(current, current_decay, _parameters(current_decay, 4, rng, n), order, i),
        membrane_decay=membrane_decay,
        membrane_decay_parameter=_parameters(membrane_decay, 4, rng, n),
        membrane_sum=membrane_sum, compare=compare,
        refractory=rng.integers(0, 3, size=n), weight_shift=rng.integers(0, 2, size=n),
        input_weight_shift=1, input_max_count=2)
    return Network(
        state=membrane,
        neuron=NeuronModel(threshold=int(rng.integers(1, membrane.max + 1)), leak_shift=None,
                           reset=("zero", "subtract", "none")[index % 3],
                           reset_value=int(rng.integers(membrane.min, membrane.max + 1))),
        weight_bits=3, weights=np.zeros((n, n), dtype=np.int64),
        input_weights=rng.integers(-4, 4, size=(n, 2)), bias=rng.integers(-2, 3, size=n),
        initial_state=v, dynamics=dynamics)


DECAY_PAIRS = list(itertools.product(DECAYS, DECAYS))


@pytest.mark.parametrize(("membrane_decay", "current_decay"), DECAY_PAIRS,
                         ids=[f"v-{a}-I-{b}" for a, b in DECAY_PAIRS])
def test_exhaustive_4bit_start_states(membrane_decay, current_decay):
    """Every 4-bit (v, I) start state, per-neuron decay parameters at the ends of their
    ranges, inputs at counts 0..2: all paths of the update unit from every state."""
    index = DECAY_PAIRS.index((membrane_decay, current_decay))
    network = exhaustive_case(index, membrane_decay, current_decay)
    inputs = np.random.default_rng(index).integers(0, 3, size=(4, 2)).astype(np.uint8)
    assert_bit_exact(network, 8, 4, inputs)


def option_matrix():
    """Without a current, unsigned lattices, wide states and per-event wrapping currents."""
    cases = []
    for index, (bits, representation, current, decay) in enumerate(itertools.product(
            (4, 8, 16, 32), ("signed", "unsigned"), (None, "exact", "per_event"),
            ("shift", "multiply", "shift_min1"))):
        cases.append((index, bits, representation, current, decay))
    return cases


def matrix_network(index, bits, representation, current, decay, neurons=9, inputs=3):
    rng = np.random.default_rng(index + 100)
    membrane = StateFormat(bits, representation, ("saturate", "wrap")[index % 2])
    weight_bits = min(bits, 8)
    lo, hi = -(1 << (weight_bits - 1)), (1 << (weight_bits - 1)) - 1
    weights = rng.integers(lo, hi + 1, size=(neurons, neurons))
    weights *= rng.random((neurons, neurons)) < 0.5
    syn = None
    if current is not None:
        cbits = min(32, bits + 4)
        fmt = StateFormat(cbits, "signed", "wrap" if current == "per_event" else
                          ("saturate", "wrap")[index // 2 % 2])
        syn = Current(fmt, decay, _parameters(decay, cbits, rng, neurons),
                      ("decay_then_add", "add_then_decay")[index % 2],
                      rng.integers(fmt.min, fmt.max + 1, size=neurons),
                      rng.integers(fmt.min, fmt.max + 1, size=neurons) // 8 if index % 3 == 0
                      else 0)
    dynamics = Dynamics(
        current=syn, membrane_decay=("shift", "multiply", "none")[index % 3],
        membrane_decay_parameter=_parameters(("shift", "multiply", "none")[index % 3], bits, rng,
                                             neurons),
        accumulate=current or "exact", compare=(">=", ">")[index // 3 % 2],
        refractory=rng.integers(0, 4, size=neurons) if index % 4 else 0,
        weight_shift=int(rng.integers(0, 3)), input_weight_shift=rng.integers(0, 3, size=neurons),
        bias_delay=rng.integers(0, 4, size=neurons) if index % 5 == 0 else 0)
    return Network(
        state=membrane,
        neuron=NeuronModel(threshold=int(rng.integers(1, max(2, membrane.max // 3))),
                           leak_shift=None, reset=("zero", "subtract", "none")[index % 3]),
        weight_bits=weight_bits, weights=weights,
        input_weights=rng.integers(lo, hi + 1, size=(neurons, inputs)),
        bias=rng.integers(membrane.min, membrane.max + 1, size=neurons) // 4,
        initial_state=rng.integers(membrane.min, membrane.max + 1, size=neurons),
        dynamics=dynamics)


@pytest.mark.parametrize(("index", "bits", "representation", "current", "decay"), option_matrix(),
                         ids=[f"{c[1]}b-{c[2]}-{c[3] or 'lif'}-{c[4]}" for c in option_matrix()])
def test_option_matrix(index, bits, representation, current, decay):
    network = matrix_network(index, bits, representation, current, decay)
    inputs = (np.random.default_rng(index).random((10, network.inputs)) < 0.4).astype(np.uint8)
    assert_bit_exact(network, (1, 2, 4, 9)[index % 4], 10, inputs)


def test_option_matrix_is_busy():
    """The matrix proves little unless its networks spike, rest and are frozen."""
    spiking = refractory = 0
    for case in option_matrix():
        network = matrix_network(*case)
        inputs = (np.random.default_rng(case[0]).random((10, network.inputs)) < 0.4).astype(
            np.uint8)
        trace = simulate(network, 10, inputs)
        spiking += bool(trace.spikes.any()) and not bool(trace.spikes.all())
        refractory += bool(network.dynamics.refractory.any()) and bool(trace.spikes.any())
    assert spiking >= 0.6 * len(option_matrix())
    assert refractory >= 0.4 * len(option_matrix())


@settings(max_examples=30, deadline=None)
@given(v3_documents(max_neurons=6, max_inputs=3), st.integers(1, 6), st.integers(1, 8),
       st.integers(0, 2**16))
def test_random_v3_networks(doc, groups, steps, seed):
    network = network_from_json(doc)
    count = network.dynamics.input_max_count
    inputs = np.random.default_rng(seed).integers(0, count + 1, size=(steps, network.inputs))
    assert_bit_exact(network, min(groups, network.neurons), steps, inputs.astype(np.uint8))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_loihi_preset(seed):
    """The Loihi preset (checked against Lava in test_compat.py) in hardware, with stalls."""
    network = random_compat_network("loihi", neurons=12, inputs=4, density=0.5, seed=seed)
    inputs = (np.random.default_rng(seed).random((16, 4)) < 0.5).astype(np.uint8)
    expected, _ = assert_bit_exact(network, 1 + seed, 16, inputs, stall_seed=seed)
    assert expected.spikes.any()


def test_loihi_preset_read_port():
    """The host's read port returns the membrane and the current (runtime weights too)."""
    network = random_compat_network("loihi", neurons=6, inputs=3, density=0.6, seed=5)
    inputs = (np.random.default_rng(5).random((6, 3)) < 0.6).astype(np.uint8)
    expected = ref_run(network, 6, inputs)
    got = run_amaranth(plan_hardware(network, 2, runtime_weights=True), 6, inputs,
                       read_states="port")
    assert_array_equal(got.state, expected.state)
    assert_array_equal(got.current, expected.current)


def test_v2_reset_mid_run():
    network = matrix_network(5, 8, "signed", "exact", "shift_min1")
    inputs = (np.random.default_rng(5).random((8, network.inputs)) < 0.4).astype(np.uint8)
    expected = ref_run(network, 8, inputs)
    got = rtl_run(network, 3, 8, inputs, reset_after=3)
    assert_array_equal(got.spikes, expected.spikes)
    assert_array_equal(got.state, expected.state)
    assert_array_equal(got.current, expected.current)


def test_uniform_parameters_are_constants():
    """A parameter shared by a group's neurons is logic, not memory: only differing ones are
    stored beside the bias."""
    uniform = random_compat_network("loihi", neurons=8, inputs=2, seed=1)
    varied = uniform.replace(dynamics=Dynamics(
        **{**{f: getattr(uniform.dynamics, f) for f in ("current", "membrane_decay",
                                                          "accumulate", "membrane_sum",
                                                          "compare", "weight_shift",
                                                          "input_weight_shift", "compat")},
           "membrane_decay_parameter": np.arange(8) * 100}))
    narrow = generate(uniform, 1).verilog
    wide = generate(varied, 1).verilog
    assert narrow != wide
    assert "constants_memory" in narrow and "constants_memory" in wide
    assert plan_hardware(varied, 1).group_plans[0].slot_fields["membrane_decay"].tolist() == \
        (np.arange(8) * 100).tolist()


XYLO_CASES = [  # (hidden neurons, inputs, groups, density, input count, stall seed)
    (6, 2, 2, 0.7, 1, None), (10, 3, 3, 0.6, 3, 1), (16, 4, 4, 0.7, 15, None),
    (24, 4, 5, 0.5, 2, 3),
]


@pytest.mark.parametrize(("hidden", "inputs", "groups", "density", "count", "stall"),
                         XYLO_CASES, ids=[f"H{c[0]}-G{c[2]}-x{c[4]}" for c in XYLO_CASES])
def test_xylo_preset(hidden, inputs, groups, density, count, stall):
    """The Xylo preset (checked against XyloSim in test_compat.py) in hardware: per-event
    saturation in the order of the semantics and up to 31 spikes a step."""
    network = random_compat_network("xylo", neurons=hidden, inputs=inputs, density=density,
                                    seed=hidden)
    stimulus = np.random.default_rng(hidden).integers(0, count + 1, size=(16, inputs))
    expected, _ = assert_bit_exact(network, groups, 16, stimulus.astype(np.uint8),
                                   stall_seed=stall)
    assert expected.spikes.max() > 1


def test_xylo_cases_depend_on_the_order_of_events():
    """The Xylo tests above would not notice a wrong event order if no current ever saturated
    halfway through a step: relabelling the hidden neurons (which reorders the recurrent
    events) must change some currents."""
    changed = 0
    for hidden, inputs, _, density, count, _ in XYLO_CASES:
        network = random_compat_network("xylo", neurons=hidden, inputs=inputs,
                                        density=density, seed=hidden)
        stimulus = np.random.default_rng(hidden).integers(0, count + 1, size=(16, inputs))
        order = np.concatenate([np.arange(hidden)[::-1], np.arange(hidden, network.neurons)])
        relabelled = _permuted(network, order)
        a = simulate(network, 16, stimulus.astype(np.uint8))
        b = simulate(relabelled, 16, stimulus.astype(np.uint8))
        changed += not np.array_equal(a.current[:, order], b.current)
    assert changed >= 2


def _permuted(network, order):
    """`network` with neuron i renamed to where `order` puts it (order[new] = old)."""
    dynamics = network.dynamics
    per_neuron = ("membrane_decay_parameter", "max_spikes", "weight_shift",
                  "input_weight_shift", "refractory", "bias_delay")
    current = dynamics.current
    return network.replace(
        weights=network.weights[np.ix_(order, order)],
        input_weights=network.input_weights[order],
        bias=np.broadcast_to(network.bias, (network.neurons,))[order],
        neuron_thresholds=np.broadcast_to(network.thresholds, (network.neurons,))[order],
        initial_state=network.initial_state[order],
        dynamics=dataclasses.replace(
            dynamics, **{name: np.broadcast_to(getattr(dynamics, name),
                                               (network.neurons,))[order]
                         for name in per_neuron},
            current=dataclasses.replace(
                current, decay_parameter=np.broadcast_to(current.decay_parameter,
                                                         (network.neurons,))[order])))


def test_multi_spike_without_a_preset():
    """Multi-spike with exact accumulation (not a chip's preset): counts up to 5, > compare."""
    base = matrix_network(0, 8, "signed", "exact", "shift")
    network = base.replace(
        neuron=NeuronModel(threshold=3, leak_shift=None, reset="subtract"),
        dynamics=dataclasses.replace(base.dynamics, max_spikes=np.arange(base.neurons) % 5 + 1,
                                     compare=">"))
    stimulus = (np.random.default_rng(3).random((12, network.inputs)) < 0.5).astype(np.uint8)
    expected, _ = assert_bit_exact(network, 2, 12, stimulus)
    assert expected.spikes.max() > 1


def test_v2_verilog_is_deterministic():
    network = random_compat_network("loihi", neurons=10, inputs=3, seed=4)
    first, second = generate(network, 3), generate(network, 3)
    assert first.files == second.files


def test_cli_builds_and_verifies_a_loihi_network(tmp_path, capsys):
    from snngen.cli import main

    path = tmp_path / "loihi.json"
    assert main(["network", "--compat", "loihi", "--neurons", "12", "--inputs", "3",
                 "--out", str(path)]) == 0
    assert main(["build", str(path), "--groups", "2", "--out", str(tmp_path / "rtl")]) == 0
    assert list((tmp_path / "rtl").glob("snn_*.v"))
    capsys.readouterr()
    assert main(["verify", str(path), "--steps", "6", "--groups", "2"]) == 0
    assert "spikes, states and synaptic currents match" in capsys.readouterr().out


def test_cli_builds_and_verifies_a_xylo_network(tmp_path, capsys):
    from snngen.cli import main

    path = tmp_path / "xylo.json"
    assert main(["network", "--compat", "xylo", "--neurons", "8", "--out", str(path)]) == 0
    assert main(["build", str(path), "--out", str(tmp_path / "rtl")]) == 0
    assert list((tmp_path / "rtl").glob("snn_*.v"))
    capsys.readouterr()
    assert main(["verify", str(path), "--steps", "6"]) == 0
    assert "spikes, states and synaptic currents match" in capsys.readouterr().out


@settings(max_examples=20, deadline=None)
@given(v3_documents(max_neurons=6, max_inputs=3), st.integers(1, 3), st.sampled_from([0, 1, 2]),
       st.integers(0, 2**16))
def test_dense_and_banked_tables_with_every_v2_option(doc, groups, bank_depth, seed):
    """Dense storage adds zero weights: with per-event saturation, multi-spike counts and
    weight shifts as well, a zero must change nothing."""
    network = network_from_json(doc)
    count = network.dynamics.input_max_count
    inputs = np.random.default_rng(seed).integers(0, count + 1, size=(6, network.inputs))
    assert_rtl_bit_exact(network, min(groups, network.neurons), 6, inputs.astype(np.uint8),
                         storage="dense", bank_depth=bank_depth)


@pytest.mark.parametrize("storage", ["dense", "sparse"])
def test_xylo_preset_in_both_layouts(storage):
    network = random_compat_network("xylo", neurons=12, inputs=4, density=0.9, seed=7)
    stimulus = np.random.default_rng(7).integers(0, 4, size=(12, 4)).astype(np.uint8)
    expected, _ = assert_rtl_bit_exact(network, 2, 12, stimulus, storage=storage,
                                       stall_seed=7)
    assert expected.spikes.max() > 1
