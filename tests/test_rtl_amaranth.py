"""Bit-exactness of the generated core in Amaranth's simulator, against the golden model.

Shape (from Glasgow): ``ref_run`` from the golden model, ``rtl_run`` from the simulator, compared
with assert_array_equal over every spike and every state of every step.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from rtl_cases import full_load_network, random_case, semantics_matrix, stimulus
from strategies import network_documents

from snngen.hw.plan import plan_hardware
from snngen.model.golden import simulate
from snngen.model.network import network_from_json
from snngen.verify.amaranth import run_amaranth

STEPS = 12


def ref_run(network, steps, inputs):
    return simulate(network, steps, inputs)


def rtl_run(network, groups, steps, inputs, *, bank_depth=0, runtime_weights=False,
            storage="auto", block_ram="inferred", spike_queue_depth=0, **options):
    plan = plan_hardware(network, groups, bank_depth=bank_depth, runtime_weights=runtime_weights,
                         storage=storage, block_ram=block_ram,
                         spike_queue_depth=spike_queue_depth)
    return run_amaranth(plan, steps, inputs, **options)


def assert_bit_exact(network, groups, steps, inputs, **options):
    expected = ref_run(network, steps, inputs)
    got = rtl_run(network, groups, steps, inputs, **options)
    assert_array_equal(got.spikes, expected.spikes)
    assert_array_equal(got.state, expected.state)
    if expected.current is None:
        assert got.current is None
    else:  # semantics v2 with a synaptic current
        assert_array_equal(got.current, expected.current)
    # The stream protocol: each neuron's spikes in one run (c copies for a count of c), and
    # an end marker with the right count every step.
    for t, ids in enumerate(got.events):
        runs = [i for k, i in enumerate(ids) if k == 0 or ids[k - 1] != i]
        assert len(runs) == len(set(runs)), f"step {t + 1}: duplicated events {ids}"
    assert got.end_counts == [len(ids) for ids in got.events]
    return expected, got


@pytest.mark.parametrize(
    ("index", "bits", "representation", "overflow", "reset", "groups", "with_inputs"),
    semantics_matrix(),
    ids=[f"{c[1]}b-{c[2]}-{c[3]}-{c[4]}-G{c[5]}-{'in' if c[6] else 'noin'}"
         for c in semantics_matrix()],
)
def test_semantics_matrix(index, bits, representation, overflow, reset, groups, with_inputs):
    network = random_case(index, bits, representation, overflow, reset)
    g = network.neurons if groups == "N" else groups
    inputs = stimulus(index, STEPS, network.inputs, rate=0.4 if with_inputs else 0.0)
    assert_bit_exact(network, g, STEPS, inputs)


def test_semantics_matrix_is_busy():
    """The matrix would prove little if its networks never spiked or never overflowed."""
    active = 0
    for index, bits, representation, overflow, reset, _, _ in semantics_matrix():
        network = random_case(index, bits, representation, overflow, reset)
        trace = simulate(network, STEPS, stimulus(index, STEPS, network.inputs))
        active += bool(trace.spikes.any()) and bool((~trace.spikes.astype(bool)).any())
    assert active >= 30


@settings(max_examples=20)
@given(network_documents(max_neurons=8, max_inputs=3), st.integers(1, 8), st.integers(1, 10),
       st.integers(0, 2**16))
def test_random_networks(doc, groups, steps, seed):
    network = network_from_json(doc)
    groups = min(groups, network.neurons)
    assert_bit_exact(network, groups, steps, stimulus(seed, steps, network.inputs))


@pytest.mark.parametrize("groups", [1, 3, 10])
def test_full_load(groups):
    """Every neuron fires every step; the host also stalls the output stream."""
    network = full_load_network()
    inputs = np.ones((8, network.inputs), dtype=np.uint8)
    expected, got = assert_bit_exact(network, groups, 8, inputs, stall_seed=groups)
    assert expected.spikes.all()
    assert all(len(ids) == network.neurons for ids in got.events)


@pytest.mark.parametrize(("seed", "groups"), [(1, 1), (2, 2), (3, 3), (4, 7)])
def test_random_stalls(seed, groups):
    network = random_case(seed, 8, "signed", "saturate", "subtract", neurons=14, density=0.6)
    inputs = stimulus(seed, 15, network.inputs, rate=0.5)
    assert_bit_exact(network, groups, 15, inputs, stall_seed=seed, stall_probability=0.5)


def test_read_out_port_matches_memory():
    network = random_case(5, 8, "unsigned", "wrap", "zero", neurons=7)
    inputs = stimulus(5, 6, network.inputs)
    by_port = rtl_run(network, 3, 6, inputs, read_states="port")
    expected = ref_run(network, 6, inputs)
    assert_array_equal(by_port.state, expected.state)


@pytest.mark.parametrize("delay", [0, 3, 11])
def test_reset_mid_run_then_clean_rerun(delay):
    network = random_case(9, 6, "signed", "wrap", "subtract", neurons=10)
    inputs = stimulus(9, 10, network.inputs, rate=0.5)
    expected, got = assert_bit_exact(network, 2, 10, inputs, reset_after=4, reset_delay=delay)
    assert_array_equal(got.before_reset.state, expected.state[:4])
    assert_array_equal(got.before_reset.spikes, expected.spikes[:4])


def test_single_neuron_and_no_inputs():
    network = random_case(3, 4, "signed", "saturate", "zero", neurons=1, inputs=0)
    assert_bit_exact(network, 1, 20, np.zeros((20, 0), np.uint8))


def test_sparse_and_empty_groups():
    """A group that holds no synapses at all, and sources with no targets."""
    network = random_case(11, 8, "signed", "saturate", "subtract", neurons=8, density=0.05)
    assert_bit_exact(network, 8, 10, stimulus(11, 10, network.inputs))


def test_all_sources_hit_one_neuron():
    """Back-to-back accumulator updates of the same slot (the read-modify-write hazard)."""
    network = random_case(12, 16, "signed", "saturate", "none", neurons=6, inputs=4, density=1.0,
                          weight_bits=10)
    weights = np.zeros((6, 6), dtype=np.int64)
    weights[0, 1:] = [300, -200, 100, 50, -25]
    network = network.replace(weights=weights, input_weights=np.full((6, 4), 7))
    inputs = np.ones((10, 4), dtype=np.uint8)
    assert_bit_exact(network, 1, 10, inputs)


@settings(max_examples=25)
@given(network_documents(max_neurons=10, max_inputs=4), st.integers(1, 4),
       st.sampled_from([0, 1, 2, 4, 8]), st.booleans(), st.sampled_from(["sparse", "dense"]),
       st.integers(0, 2**16))
def test_synapse_table_layouts(doc, groups, bank_depth, runtime_weights, storage, seed):
    """Every table layout stays bit-exact: banks of 1..8 entries (up to 5 multiplexer levels)
    or one memory, ROM or runtime-loaded, sparse (slot ids) or dense (by position, zeros
    included)."""
    network = network_from_json(doc)
    groups = min(groups, network.neurons)
    assert_bit_exact(network, groups, 6, stimulus(seed, 6, network.inputs),
                     bank_depth=bank_depth, runtime_weights=runtime_weights, storage=storage)


@pytest.mark.parametrize(
    ("index", "bits", "representation", "overflow", "reset", "groups", "with_inputs"),
    semantics_matrix()[::2], ids=str)
def test_ecp5_build_logic(index, bits, representation, overflow, reset, groups, with_inputs):
    """The ECP5 build's own logic in Amaranth's simulator: membrane states and accumulators in
    LUT RAM with a read port per reader, the constants read a stage later. A network of at most
    64 sources with one-bank tables has no vendor primitive in it."""
    network = random_case(index, bits, representation, overflow, reset)
    g = network.neurons if groups == "N" else groups
    plan = plan_hardware(network, g, block_ram="dp16kd")
    assert plan.lut_ram_state
    inputs = stimulus(index, STEPS, network.inputs, rate=0.4 if with_inputs else 0.0)
    assert_bit_exact(network, g, STEPS, inputs, block_ram="dp16kd", stall_seed=index)


def test_ecp5_build_logic_with_per_neuron_thresholds():
    network = random_case(5, 8, "signed", "saturate", "subtract", neurons=11, inputs=4)
    network = network.replace(neuron_thresholds=np.arange(1, network.neurons + 1) * 5)
    assert plan_hardware(network, 2, block_ram="dp16kd").per_slot_thresholds
    inputs = stimulus(5, STEPS, network.inputs, rate=0.5)
    expected, _ = assert_bit_exact(network, 2, STEPS, inputs, block_ram="dp16kd", stall_seed=5)
    assert expected.spikes.any()


@pytest.mark.parametrize("groups", [1, 3])
def test_dense_storage_of_a_full_layer(groups):
    """A fully connected layered network is stored densely by default (no slot ids), and
    stays bit-exact with inputs on every channel."""
    network = random_case(31, 8, "signed", "saturate", "subtract", neurons=9, inputs=5,
                          density=1.0)
    plan = plan_hardware(network, groups)
    assert all(g.dense for g in plan.group_plans)
    assert plan.group_entry_width(0) == plan.group_weight_width(0)
    inputs = stimulus(31, 10, network.inputs, rate=0.6)
    assert_bit_exact(network, groups, 10, inputs)


@pytest.mark.parametrize("bank_depth", [1, 2])
def test_banked_tables_under_full_load_and_stalls(bank_depth):
    """Every neuron fires every step through tables of 16 banks and more while the host stalls."""
    network = full_load_network()
    plan = plan_hardware(network, 2, bank_depth=bank_depth)
    assert max(plan.synapse_banks(g) for g in range(2)) >= 16
    inputs = np.ones((6, network.inputs), dtype=np.uint8)
    expected, _ = assert_bit_exact(network, 2, 6, inputs, stall_seed=bank_depth,
                                   bank_depth=bank_depth)
    assert expected.spikes.all()


@pytest.mark.parametrize(("groups", "bank_depth"), [(1, 0), (2, 0), (4, 0), (2, 2), (12, 0)])
def test_cycles_lie_between_the_bounds(groups, bank_depth):
    """Measured cycles per step ≥ max(N/G, synaptic events/G) and ≤ the serial schedule (whose
    accumulate latency counts a banked table's extra read cycles)."""
    network = random_case(21, 8, "signed", "saturate", "subtract", neurons=16, density=0.6)
    inputs = stimulus(21, 10, network.inputs, rate=0.5)
    plan = plan_hardware(network, groups, bank_depth=bank_depth)
    expected, got = assert_bit_exact(network, groups, 10, inputs, bank_depth=bank_depth)
    previous = np.vstack([np.zeros((1, network.neurons), np.uint8), expected.spikes[:-1]])
    for t in range(10):
        lower = plan.lower_bound_cycles(previous[t], inputs[t])
        upper = plan.serial_step_cycles(previous[t], inputs[t], expected.spikes[t])
        assert lower <= got.cycles[t] <= upper, (t, lower, got.cycles[t], upper)
