"""Structured layers (format version 4): conv2d, sumpool2d/avgpool2d, flatten and dense projections.

The golden model (event-driven fan-out built from the kernels) against a scalar reference that
gathers each output's window (tests/reference.py), against the same network with every synapse
listed (dense and event engines), and under semantics v2; the file format; the RTL of a small
convolutional network, whose tables the generator builds from the expanded synapses.
"""

import copy
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from reference import run_structured
from strategies import structured_documents
from test_rtl_amaranth import assert_bit_exact

from snngen.errors import InputError
from snngen.model.golden import overflow_events, simulate, simulate_batch
from snngen.model.network import (
    Dynamics,
    Layer,
    Network,
    NeuronModel,
    StateFormat,
    load_network,
    network_from_json,
    network_to_json,
    save_network,
)
from snngen.model.structure import Conv2d, Dense, Flatten, Projection, SumPool2d


def stimulus(network, steps, seed, rate=0.4):
    rng = np.random.default_rng(seed)
    return (rng.random((steps, network.inputs)) < rate).astype(np.uint8)


def ref_structured(network, steps, inputs):
    """The scalar reference's trace of `network` (through its network.json document)."""
    spikes, states = run_structured(json.loads(network_to_json(network)), steps,
                                    inputs.tolist())
    return np.array(spikes, dtype=np.uint8), np.array(states, dtype=np.int64)


def small_cnn(seed=0, *, stride=1, padding=1, dilation=1, groups=1, pool=(2, 2, 0),
              bits=8, reset="subtract", overflow="saturate", threshold=12, leak_shift=None):
    """1×8×8 → conv 4×3×3 → A (4×8×8 at stride 1) → sum pool → flatten → dense 5 → B."""
    rng = np.random.default_rng(seed)
    conv = Conv2d(rng.integers(-8, 8, size=(4, 2 // groups if groups > 1 else 2, 3, 3)),
                  stride, padding, dilation, groups, bias=rng.integers(-2, 3, size=4))
    input_shape = (2, 8, 8)
    shape_a = conv.output_shape(input_shape)
    kernel, pool_stride, pool_padding = pool
    pooled = SumPool2d(kernel, pool_stride, pool_padding).output_shape(shape_a)
    dense = Dense(rng.integers(-8, 8, size=(5, int(np.prod(pooled)))))
    return Network(
        state=StateFormat(bits, "signed", overflow),
        neuron=NeuronModel(threshold=threshold, leak_shift=leak_shift, reset=reset),
        weight_bits=5, weights=None, input_weights=None,
        layers=(Layer("A", int(np.prod(shape_a)), 5, threshold, shape_a),
                Layer("B", 5, 5, threshold + 3)),
        projections=(Projection("input", "A", (conv,)),
                     Projection("A", "B", (SumPool2d(kernel, pool_stride, pool_padding),
                                           Flatten(), dense))),
        input_shape=input_shape)


EDGE_CASES = {
    "stride1-pad1": {},
    "stride2-pad1": {"stride": 2},
    "stride2-pad0": {"stride": 2, "padding": 0},
    "dilation2": {"dilation": 2, "padding": 2},
    "groups2": {"groups": 2},
    "pad2-overlapping-pool": {"padding": 2, "pool": (3, 2, 1)},
    "wrap-zero-reset": {"overflow": "wrap", "reset": "zero", "bits": 6, "threshold": 9},
    "leak": {"leak_shift": 2},
}


@pytest.mark.parametrize("case", list(EDGE_CASES), ids=str)
@pytest.mark.parametrize("seed", [1, 2])
def test_golden_matches_scalar_reference(case, seed):
    network = small_cnn(seed, **EDGE_CASES[case])
    inputs = stimulus(network, 12, seed)
    expected_spikes, expected_state = ref_structured(network, 12, inputs)
    trace = simulate(network, 12, inputs)
    assert trace.spikes.any(), "the case must make neurons fire"
    assert_array_equal(trace.spikes, expected_spikes)
    assert_array_equal(trace.state, expected_state)


@given(structured_documents(), st.integers(1, 15), st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_random_structured_networks_match_reference_and_expansion(doc, steps, seed):
    network = network_from_json(doc)
    inputs = stimulus(network, steps, seed, rate=0.5)
    expected_spikes, expected_state = ref_structured(network, steps, inputs)
    trace = simulate(network, steps, inputs)
    assert_array_equal(trace.spikes, expected_spikes)
    assert_array_equal(trace.state, expected_state)
    expanded = network.expanded()
    assert not expanded.structured
    for method in ("dense", "event"):
        listed = simulate(expanded, steps, inputs, method=method)
        assert_array_equal(listed.spikes, trace.spikes)
        assert_array_equal(listed.state, trace.state)
    batch = simulate_batch([network, expanded], steps, [inputs, inputs])
    assert_array_equal(batch.spikes[0], batch.spikes[1])
    assert_array_equal(overflow_events(network, trace, inputs),
                       overflow_events(expanded, trace, inputs))
    # The file round trip keeps every field.
    assert network_from_json(json.loads(network_to_json(network))) == network


def test_fanout_is_exactly_the_kernels():
    """Each synapse of the expanded matrix is one kernel tap (a conv with no overlap of paths),
    and a pooled projection's weights are the kernel summed over the pool's window."""
    network = small_cnn(3, pool=(2, 2, 0))
    w, w_in = network.weight_matrices()
    conv = network.projections[0].ops[0]
    # Output (o, oy, ox) from input (i, y, x) at stride 1, padding 1: tap (y − oy + 1, x − ox + 1).
    dense_in = w_in.toarray()[:256].reshape(4, 8, 8, 2, 8, 8)
    for o, oy, ox, i, y, x in [(0, 0, 0, 0, 0, 0), (3, 4, 5, 1, 5, 4), (2, 7, 7, 1, 6, 7)]:
        assert dense_in[o, oy, ox, i, y, x] == conv.weight[o, i, y - oy + 1, x - ox + 1]
    assert dense_in[0, 0, 0, 0, 2, 2] == 0  # outside the 3×3 window
    dense = network.projections[1].ops[-1].weight.reshape(5, 4, 4, 4)
    into_b = w.toarray()[256:, :256].reshape(5, 4, 8, 8)
    assert_array_equal(into_b, np.repeat(np.repeat(dense, 2, axis=2), 2, axis=3))
    assert network.synapses == w.nnz + w_in.nnz


def test_average_pool_is_the_window_sum():
    """avgpool2d in a network is the window's sum (its 1/(kh·kw) is in the weights that follow),
    written back as avgpool2d."""
    network = small_cnn(4)
    ops = network.projections[1].ops
    averaged = network.replace(projections=(
        network.projections[0],
        Projection("A", "B", (SumPool2d(2, average=True), *ops[1:]))))
    inputs = stimulus(network, 10, 4)
    assert_array_equal(simulate(averaged, 10, inputs).state, simulate(network, 10, inputs).state)
    assert '"kind": "avgpool2d"' in network_to_json(averaged)
    assert network_from_json(json.loads(network_to_json(averaged))) == averaged


@pytest.mark.parametrize("max_spikes", [1, 3])
def test_dynamics_with_projections_match_the_expansion(max_spikes):
    from snngen.model.network import Current

    base = small_cnn(5, threshold=6)
    network = base.replace(
        neuron=NeuronModel(threshold=6, reset="subtract"),
        dynamics=Dynamics(current=Current(StateFormat(10), "shift", 1),
                          membrane_decay="shift_min1", membrane_decay_parameter=2,
                          max_spikes=max_spikes, refractory=1))
    inputs = stimulus(network, 16, 5, rate=0.6)
    trace = simulate(network, 16, inputs)
    assert trace.spikes.any()
    for method in ("dense", "event"):
        listed = simulate(network.expanded(), 16, inputs, method=method)
        assert_array_equal(trace.spikes, listed.spikes)
        assert_array_equal(trace.state, listed.state)
        assert_array_equal(trace.current, listed.current)


def test_file_round_trip_and_older_versions(tmp_path):
    network = small_cnn(6, stride=2)
    path = tmp_path / "cnn.json"
    save_network(network, path)
    text = path.read_text()
    assert '"version": 4' in text and '"weights"' not in text and '"bias"' in text
    assert load_network(path) == network
    # Deterministic bytes.
    save_network(load_network(path), tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == path.read_bytes()
    # A network without projections keeps its older version.
    assert '"version": 2' in network_to_json(network.expanded())


def _document():
    return json.loads(network_to_json(small_cnn(7)))


BAD_DOCUMENTS = {
    "weights beside projections": (lambda d: d.update(weights=[]), "weights must be left out"),
    "unknown op": (lambda d: d["projections"][0]["ops"][0].update(kind="conv3d"),
                   "kind must be one of conv2d"),
    "unknown op field": (lambda d: d["projections"][0]["ops"][0].update(strides=[1, 1]),
                         "did you mean 'stride'"),
    "shape mismatch": (lambda d: d["layers"][0].update(shape=[4, 4, 16]),
                       "its output is 4×8×8, the target layer holds 4×4×16"),
    "weight out of range": (lambda d: d["projections"][0]["ops"][0]["weight"][0][0][0].__setitem__(
        0, 99), "must be in -16..15 for the 5-bit weights of layer 'A', not 99"),
    "unknown source": (lambda d: d["projections"][1].update(source="Z"),
                       "source must be 'input' or a layer"),
    "missing input_shape": (lambda d: d.pop("input_shape"), "needs input_shape"),
    "dense without flatten": (lambda d: d["projections"][1]["ops"].pop(1),
                              "dense needs a flat input"),
    "float weight": (lambda d: d["projections"][0]["ops"][0]["weight"][0][0][0].__setitem__(
        0, 1.5), "of integers, not non-integer numbers"),
    "ragged kernel": (lambda d: d["projections"][0]["ops"][0]["weight"][0][0].pop(),
                      "rows differ in length"),
    "kernel too large": (lambda d: d["projections"][0]["ops"][0].update(padding=[0, 0],
                                                                        dilation=[5, 5]),
                         "does not fit the 2×8×8 input"),
    "groups": (lambda d: d["projections"][0]["ops"][0].update(groups=3),
               "groups must divide the 4 output channels, not 3"),
    "version 3": (lambda d: d.update(version=3), "projections needs version 4"),
    "bias length": (lambda d: d["projections"][0]["ops"][0].update(bias=[1, 2]),
                    "conv2d bias must be 4 integers (one per output channel)"),
    "bias outside the lattice": (lambda d: d["projections"][0]["ops"][0].update(
        bias=[200, 0, 0, 0]), "bias[0] must be in -128..127 for 8-bit signed state, not 200"),
    "neurons": (lambda d: d.update(neurons=7), "neurons must be 261"),
}


@pytest.mark.parametrize("case", list(BAD_DOCUMENTS), ids=str)
def test_bad_documents_name_the_field(case):
    change, message = BAD_DOCUMENTS[case]
    doc = copy.deepcopy(_document())
    change(doc)
    with pytest.raises(InputError) as error:
        network_from_json(doc)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_expanding_a_large_network_is_refused_with_the_size():
    rng = np.random.default_rng(0)
    big = Network(state=StateFormat(8), neuron=NeuronModel(threshold=10), weight_bits=4,
                  weights=None, input_weights=None,
                  layers=(Layer("A", 16 * 64 * 64, 4, shape=(16, 64, 64)),),
                  projections=(Projection("input", "A", (
                      Conv2d(rng.integers(-8, 8, size=(16, 2, 3, 3)), padding=1),)),),
                  input_shape=(2, 64, 64))
    with pytest.raises(InputError, match="65,536 × 73,728 entries"):
        big.expanded()
    # The golden model runs it all the same (kernels, not matrices).
    inputs = stimulus(big, 3, 0, rate=0.05)
    assert simulate(big, 3, inputs).spikes.shape == (3, 65536)


@pytest.mark.parametrize("case", ["stride1-pad1", "stride2-pad1", "pad2-overlapping-pool"],
                         ids=str)
def test_rtl_runs_a_small_convolutional_network(case):
    """The hardware generator takes a network with projections (through its synapse lists):
    bit-exact in Amaranth's simulator, with stalls."""
    network = small_cnn(8, **EDGE_CASES[case])
    inputs = stimulus(network, 8, 8, rate=0.3)
    expected, _ = assert_bit_exact(network, 2, 8, inputs, stall_seed=8)
    assert expected.spikes.any()


def test_convolution_layers_keep_their_kernels():
    """A layer reached by one conv2d (after non-overlapping pools) is one group holding its
    kernel and a position table; a layer reached through an overlapping pool, a dense op or two
    projections lists its synapses."""
    from snngen.hw.plan import convolution_layers, plan_hardware

    network = small_cnn(3)
    assert set(convolution_layers(network)) == {"A"}
    plan = plan_hardware(network, 3)
    kernel_group = plan.group_plans[0]
    conv = network.projections[0].ops[0]
    assert kernel_group.convolution is not None and kernel_group.depth == 256
    assert_array_equal(kernel_group.synapses[:, 1], conv.weight.reshape(-1))
    assert [g.depth for g in plan.group_plans[1:]] == [3, 2]
    # The kernel group's position table covers the input; B's pointer tables cover A only.
    assert (kernel_group.pointer_first, kernel_group.pointer_depth) == (network.neurons,
                                                                        network.inputs)
    for group in plan.group_plans[1:]:
        reaching = np.flatnonzero(group.pointers[:, 1])
        assert (group.pointer_first, group.pointer_depth) == (
            reaching[0], reaching[-1] + 1 - reaching[0])
        assert reaching[-1] < 256
    # The bias is per channel and the initial state zero: one constants word per channel.
    assert kernel_group.constants_depth == 4
    # The cycle model's per-source updates: a corner input meets a 2×2 window in 4 channels.
    assert kernel_group.pointers[network.neurons, 1] == 4 * 2 * 2
    assert kernel_group.pointers[network.neurons + 9, 1] == 4 * 3 * 3
    assert plan.synapse_table_bits(0) == conv.weight.size * plan.group_weight_width(0)
    assert plan.describe()["kernel_groups"] == [0]
    listed = plan_hardware(network, 3, share_kernels=False)
    assert all(g.convolution is None for g in listed.group_plans)
    _, _, first_group, count = listed.segments[0]
    assert sum(listed.group_plans[g].synapse_count
               for g in range(first_group, first_group + count)) \
        == network.weight_matrices()[1][:256].nnz
    # Overlapping pools before a conv2d, and a recurrent projection, keep the synapse lists.
    recurrent = network.replace(projections=(
        *network.projections, Projection("A", "A", (Flatten(), Dense(np.eye(256, dtype=int))))))
    assert convolution_layers(recurrent) == {}
    pooled = network.replace(projections=(
        Projection("input", "A", (SumPool2d(3, 2, 1), Conv2d(conv.weight, 1, 3, bias=conv.bias))),
        network.projections[1]))
    assert convolution_layers(pooled) == {}
    with pytest.raises(InputError, match=r"groups must be at most 6 for this network, not 7"):
        plan_hardware(network, 7)


KERNEL_CASES = {
    **{name: EDGE_CASES[name] for name in ("stride1-pad1", "stride2-pad1", "stride2-pad0",
                                           "dilation2", "groups2", "wrap-zero-reset")},
}


@pytest.mark.parametrize("groups", [2, 3])
@pytest.mark.parametrize("case", list(KERNEL_CASES), ids=str)
def test_rtl_kernel_groups_are_bit_exact(case, groups):
    """A kernel group's address generator against the golden model: borders, stride 2,
    padding, dilation, grouped convolution, wrap-around; with stalls."""
    network = small_cnn(9, **KERNEL_CASES[case])
    inputs = stimulus(network, 8, 9, rate=0.4)
    expected, _ = assert_bit_exact(network, groups, 8, inputs, stall_seed=9)
    assert expected.spikes[:, :network.layers[0].size].any()


def pooled_conv_chain(seed):
    """input 2×9×9 → sum pool 2 (stride 3) → conv 3×3×3 (stride 1, padding 1) → A →
    conv 2×2×2 (stride 2) → B: two kernel layers, the first behind a pool with gaps."""
    rng = np.random.default_rng(seed)
    first = Conv2d(rng.integers(-6, 9, size=(3, 2, 3, 3)), 1, 1, bias=np.array([0, 1, -1]))
    second = Conv2d(rng.integers(-6, 9, size=(2, 3, 2, 2)), 2, 0)
    return Network(
        state=StateFormat(8, "signed", "saturate"),
        neuron=NeuronModel(threshold=8, reset="subtract"), weight_bits=5,
        weights=None, input_weights=None,
        layers=(Layer("A", 27, 5, 8, (3, 3, 3)), Layer("B", 2, 5, 6, (2, 1, 1))),
        projections=(Projection("input", "A", (SumPool2d(2, 3), first)),
                     Projection("A", "B", (second,))),
        input_shape=(2, 9, 9))


def test_rtl_pooled_and_chained_kernel_layers():
    """A kernel layer behind a pool and a kernel layer fed by another: both bit-exact, and the
    full-load case (every input on every step) too."""
    from snngen.hw.plan import plan_hardware

    network = pooled_conv_chain(4)
    assert [g.convolution is not None for g in plan_hardware(network, 2).group_plans] \
        == [True, True]
    inputs = stimulus(network, 10, 4, rate=0.5)
    expected, _ = assert_bit_exact(network, 2, 10, inputs, stall_seed=4)
    assert expected.spikes[:, 27:].any()
    full = np.ones((6, network.inputs), dtype=np.uint8)
    assert_bit_exact(network, 2, 6, full, stall_seed=5)


@pytest.mark.parametrize("max_spikes", [1, 3])
def test_rtl_kernel_groups_with_dynamics(max_spikes):
    """Semantics v2 through a kernel group: a current, a decay, a refractory period, multi-spike
    events (each update adds count × weight) and a weight shift."""
    from snngen.model.network import Current

    base = small_cnn(5, threshold=6)
    n = base.neurons
    network = base.replace(
        neuron=NeuronModel(threshold=6, reset="subtract"),
        dynamics=Dynamics(current=Current(StateFormat(12), "shift", 1),
                          membrane_decay="shift_min1", membrane_decay_parameter=2,
                          max_spikes=max_spikes, refractory=1,
                          weight_shift=np.full(n, 1), input_weight_shift=np.full(n, 1)))
    inputs = stimulus(network, 10, 5, rate=0.6)
    expected, _ = assert_bit_exact(network, 2, 10, inputs, stall_seed=5)
    assert expected.spikes.any()


@given(structured_documents(max_side=5), st.integers(1, 4), st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_random_structured_networks_are_bit_exact_in_rtl(doc, groups, seed):
    """Random shapes, kernels, strides, paddings, dilations, pools and v1 options: the
    generated core (kernel groups where a layer qualifies) matches the golden model."""
    from snngen.hw.plan import convolution_layers

    network = network_from_json(doc)
    kernel_layers = convolution_layers(network)
    most = sum(1 if layer.name in kernel_layers else layer.size for layer in network.layers)
    groups = max(len(network.layers), min(groups, most))
    inputs = stimulus(network, 6, seed, rate=0.5)
    assert_bit_exact(network, groups, 6, inputs, stall_seed=seed % 7)


def tiny_cnn(seed=0):
    """1×6×6 → conv 3×3×3 (stride 2, padding 1) → A 3×3×3 → sum pool 2 (padding 1) → flatten
    → dense 4 → B: small enough for every simulator and for gate level."""
    rng = np.random.default_rng(seed)
    return Network(
        state=StateFormat(8, "signed", "saturate"),
        neuron=NeuronModel(threshold=10, reset="subtract"), weight_bits=5,
        weights=None, input_weights=None,
        layers=(Layer("A", 27, 5, 10, (3, 3, 3)), Layer("B", 4, 5, 14)),
        projections=(Projection("input", "A", (
            Conv2d(rng.integers(-6, 12, size=(3, 1, 3, 3)), 2, 1, bias=np.array([1, 0, 2])),)),
            Projection("A", "B", (SumPool2d(2, 2, 1), Flatten(),
                                  Dense(rng.integers(-10, 14, size=(4, 12)))))),
        input_shape=(1, 6, 6))


@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
def test_cocotb_runs_a_convolutional_network(tmp_path, simulator):
    """The generated Verilog of a network with projections under cocotb: the testbench reads
    the build's version-4 network.json, and the run is bit-exact, with stalls."""
    from test_cocotb import require

    from snngen.verify.cosim import run_cocotb

    require(simulator)
    network = tiny_cnn(1)
    inputs = stimulus(network, 12, 1, rate=0.4)
    expected = simulate(network, 12, inputs)
    assert expected.spikes[:, 27:].any()
    result = run_cocotb(network, 12, inputs, simulator=simulator, build_dir=tmp_path, groups=2)
    assert result.failed == 0, result.mismatches
    assert_array_equal(result.run.spikes, expected.spikes)
    assert_array_equal(result.run.state, expected.state)
    assert '"version": 4' in (tmp_path / "network.json").read_text()


@pytest.mark.full
def test_gate_level_convolutional_network(tmp_path):
    """The iCE40 netlist of a convolutional network under Icarus: bit-exact."""
    from test_cocotb import require

    from snngen.verify.gatelevel import run_gate_level

    require("icarus")
    network = tiny_cnn(2)
    inputs = stimulus(network, 10, 2, rate=0.4)
    expected = simulate(network, 10, inputs)
    assert expected.spikes.any()
    result, cells = run_gate_level(network, 10, inputs, groups=2, build_dir=tmp_path)
    assert cells.get("SB_LUT4", 0) > 0 and result.failed == 0
    assert_array_equal(result.run.spikes, expected.spikes)
    assert_array_equal(result.run.state, expected.state)


@pytest.mark.full
@pytest.mark.parametrize("target", ["ice40-up5k", "ecp5-25f"])
def test_convolutional_network_synthesizes(target):
    """One small convolutional network per family through yosys and nextpnr."""
    from test_synth import _require_tools

    from snngen.synth.flow import TARGETS, synthesize

    _require_tools(TARGETS[target].family)
    report = synthesize(tiny_cnn(3), target, groups=2)
    assert report["lut"] > 0 and report["bram"] >= 0 and report["fmax_mhz"] > 10
