"""Spike queues smaller than their groups (HardwarePlan.spike_queue_depth): the sweep waits for
room, nothing is lost, every option stays bit-exact against the golden model.

An iCE40 build bounds every spike queue at one block RAM (256 ids); the tests bound them at
1 to 4 entries, so that every sweep of these small networks waits, with and without a host that
stalls the spike stream.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rtl_cases import full_load_network, random_case, semantics_matrix, stimulus
from strategies import network_documents, structured_documents
from test_conv import pooled_conv_chain, small_cnn
from test_rtl_amaranth import assert_bit_exact
from test_rtl_dynamics import matrix_network, option_matrix

from snngen.hw.plan import ICE40_SPIKE_QUEUE_DEPTH, plan_hardware, spike_queue_depth_for
from snngen.model.compat import random_compat_network
from snngen.model.network import network_from_json
from snngen.synth.flow import target_plan


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("stall", [None, 3])
def test_full_load_with_small_spike_queues(depth, groups, stall):
    """Every neuron fires every step: each sweep fills its queue and waits."""
    network = full_load_network(neurons=10, inputs=2)
    plan = plan_hardware(network, groups, spike_queue_depth=depth)
    assert all(plan.sweep_waits_for_room(g) for g in range(groups))
    inputs = stimulus(1, 8, network.inputs, rate=0.5)
    expected, _ = assert_bit_exact(network, groups, 8, inputs, spike_queue_depth=depth,
                                   stall_seed=stall)
    assert expected.spikes.all()


MATRIX = semantics_matrix()[::3]


@pytest.mark.parametrize(
    ("index", "bits", "representation", "overflow", "reset", "groups", "with_inputs"), MATRIX,
    ids=[f"{c[1]}b-{c[2]}-{c[3]}-{c[4]}-G{c[5]}" for c in MATRIX])
def test_semantics_v1_with_small_spike_queues(index, bits, representation, overflow, reset,
                                              groups, with_inputs):
    network = random_case(index, bits, representation, overflow, reset)
    g = network.neurons if groups == "N" else groups
    inputs = stimulus(index, 12, network.inputs, rate=0.4 if with_inputs else 0.0)
    assert_bit_exact(network, g, 12, inputs, spike_queue_depth=1 + index % 2, stall_seed=index)


V2 = option_matrix()[::4]


@pytest.mark.parametrize(("index", "bits", "representation", "current", "decay"), V2,
                         ids=[f"{c[1]}b-{c[2]}-{c[3] or 'lif'}-{c[4]}" for c in V2])
def test_semantics_v2_with_small_spike_queues(index, bits, representation, current, decay):
    network = matrix_network(index, bits, representation, current, decay)
    inputs = (np.random.default_rng(index).random((10, network.inputs)) < 0.4).astype(np.uint8)
    assert_bit_exact(network, (1, 2, 4)[index % 3], 10, inputs, spike_queue_depth=2,
                     stall_seed=index)


@pytest.mark.parametrize("depth", [1, 2])
def test_ordered_events_with_small_spike_queues(depth):
    """The Xylo preset: events in order, each group's last-entry marker beside its spikes,
    up to 31 spikes a step per neuron."""
    network = random_compat_network("xylo", neurons=16, inputs=4, density=0.5, seed=16)
    plan = plan_hardware(network, 3, spike_queue_depth=depth)
    assert plan.ordered_events and plan.sweep_waits_for_room(0)
    assert plan.group_spike_queue_depth(0) == max(2, depth + 1)
    inputs = np.random.default_rng(16).integers(0, 3, size=(16, network.inputs))
    expected, _ = assert_bit_exact(network, 3, 16, inputs.astype(np.uint8),
                                   spike_queue_depth=depth, stall_seed=depth)
    assert expected.spikes.max() > 1


@pytest.mark.parametrize("case", [{}, {"stride": 2}, {"padding": 0, "dilation": 2}], ids=str)
def test_kernel_groups_with_small_spike_queues(case):
    network = small_cnn(9, **case)
    inputs = np.random.default_rng(9).random((8, network.inputs)) < 0.4
    expected, _ = assert_bit_exact(network, 2, 8, inputs.astype(np.uint8),
                                   spike_queue_depth=3, stall_seed=9)
    assert expected.spikes.any()
    chain = pooled_conv_chain(4)
    full = np.ones((6, chain.inputs), dtype=np.uint8)
    assert_bit_exact(chain, 2, 6, full, spike_queue_depth=2, stall_seed=5)


@settings(max_examples=15, deadline=None)
@given(network_documents(max_neurons=9, max_inputs=3), st.integers(1, 4), st.integers(1, 4),
       st.integers(0, 2**16))
def test_random_networks_with_small_spike_queues(doc, groups, depth, seed):
    network = network_from_json(doc)
    groups = min(groups, network.neurons)
    inputs = (np.random.default_rng(seed).random((8, network.inputs)) < 0.5).astype(np.uint8)
    assert_bit_exact(network, groups, 8, inputs, spike_queue_depth=depth, stall_seed=seed % 5)


@settings(max_examples=8, deadline=None)
@given(structured_documents(max_side=5), st.integers(1, 3), st.integers(0, 2**16))
def test_random_convolutional_networks_with_small_spike_queues(doc, depth, seed):
    network = network_from_json(doc)
    inputs = (np.random.default_rng(seed).random((6, network.inputs)) < 0.5).astype(np.uint8)
    assert_bit_exact(network, len(network.layers), 6, inputs, spike_queue_depth=depth,
                     stall_seed=seed % 7)


def test_plan_sizes_and_reports_the_queues():
    network = full_load_network(neurons=10, inputs=2)
    unbounded = plan_hardware(network, 2)
    bounded = plan_hardware(network, 2, spike_queue_depth=3)
    assert [unbounded.group_spike_queue_depth(g) for g in range(2)] == [5, 5]
    assert [bounded.group_spike_queue_depth(g) for g in range(2)] == [3, 3]
    assert not unbounded.sweep_waits_for_room(0) and bounded.sweep_waits_for_room(0)
    assert not plan_hardware(network, 2, spike_queue_depth=5).sweep_waits_for_room(0)
    assert bounded.describe()["spike_queue_depth_per_group"] == [3, 3]
    assert bounded.memory_bits()["spike_queue"] == 6 * bounded.neuron_id_width
    assert unbounded.memory_bits()["spike_queue"] == 10 * unbounded.neuron_id_width
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match=r"spike_queue_depth must be 0 \(room for every "
                                             r"spike\) or a positive integer, not"):
            plan_hardware(network, 2, spike_queue_depth=bad)


def test_ice40_builds_bound_the_queues_and_ecp5_builds_do_not():
    from amaranth.hdl import Fragment

    from snngen.hw.core import SNNCore

    network = full_load_network(neurons=300, inputs=2, density=0.02)
    assert spike_queue_depth_for("ice40") == ICE40_SPIKE_QUEUE_DEPTH == 256
    assert spike_queue_depth_for("ecp5") == 0
    ice40 = target_plan(network, "ice40-up5k", 1, False)
    ecp5 = target_plan(network, "ecp5-25f", 1, False)
    assert ice40.group_spike_queue_depth(0) == 256 and ice40.sweep_waits_for_room(0)
    assert ecp5.group_spike_queue_depth(0) == 300 and not ecp5.sweep_waits_for_room(0)
    core = SNNCore(ice40)
    assert [depth for _, depth in core._core_queue_shapes()] == [2, 256]
    Fragment.get(core, None)  # elaborates (Amaranth warns of a core never used)
