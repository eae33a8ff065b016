"""NIR import: graphs made here (with snnTorch's export conventions) mapped to the integer semantics.

``ref_*`` is a float discrete-time simulation of the NIR graph with one step per layer; with
weights on the integer grid the imported network must spike exactly as it does.
"""

import json

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from snngen.cli import main
from snngen.hw.plan import plan_hardware
from snngen.model.golden import simulate
from snngen.model.network import load_network
from snngen.verify.amaranth import run_amaranth

nir = pytest.importorskip("nir", reason="pip install 'snngen[nir]'")

DT = 1e-4


def snntorch_lif(beta, threshold, size):
    """A LIF node as snnTorch's export_to_nir writes one for snn.Leaky(beta, threshold)."""
    tau = DT / (1 - beta)
    return nir.LIF(tau=np.full(size, tau), r=np.full(size, tau / DT), v_leak=np.zeros(size),
                   v_threshold=np.full(size, threshold), v_reset=np.zeros(size))


def two_layer_graph(w1, w2, beta=0.9375, thresholds=(1.0, 2.0), bias=None):
    k, hidden, out = w1.shape[1], w1.shape[0], w2.shape[0]
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([k])}),
            "flatten": nir.Flatten(input_type={"input": np.array([k])}, start_dim=0),
            "fc1": nir.Affine(weight=w1, bias=np.zeros(hidden) if bias is None else bias),
            "lif1": snntorch_lif(beta, thresholds[0], hidden),
            "fc2": nir.Linear(weight=w2),
            "lif2": snntorch_lif(beta, thresholds[1], out),
            "output": nir.Output(output_type={"output": np.array([out])}),
        },
        edges=[("input", "flatten"), ("flatten", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"),
               ("fc2", "lif2"), ("lif2", "output")])


def _import(tmp_path, graph, *argv):
    path = tmp_path / "model.nir"
    nir.write(path, graph)
    out = tmp_path / "net.json"
    status = main(["import", str(path), "--out", str(out), *argv])
    return status, out


def test_snntorch_style_graph_maps_to_the_expected_integers(tmp_path, capsys):
    w1 = np.array([[1.0, 0.5, -0.25], [0.2, 0.3, 0.4]])
    w2 = np.array([[0.5, -0.5]])
    status, out = _import(tmp_path, two_layer_graph(w1, w2), "--bits", "8")
    assert status == 0
    net = load_network(out)
    # Signed 8 bits: one threshold = 64 units; lif2's threshold 2 halves its weights.
    assert net.neuron.threshold == 64 and net.neuron.leak_shift == 4
    assert_array_equal(net.input_weights[:2], np.rint(w1 * 64))
    assert_array_equal(net.weights[2, :2], np.rint(w2[0] / 2 * 64))
    assert not net.weights[:2].any() and not net.input_weights[2].any()
    layers = json.loads(out.read_text())["import"]["layers"]
    assert [(layer["name"], layer["first"], layer["last"]) for layer in layers] == \
        [("lif1", 0, 1), ("lif2", 2, 2)]
    assert "leak shift 4" in capsys.readouterr().out


def ref_if_network(w1, w2, thresholds, inputs):
    """Float IF layers, one step per layer (layer 2 sees layer 1's spikes of the step before)."""
    steps = inputs.shape[0]
    v1, v2 = np.zeros(w1.shape[0]), np.zeros(w2.shape[0])
    s1 = np.zeros(w1.shape[0])
    spikes = np.zeros((steps, w1.shape[0] + w2.shape[0]), dtype=np.uint8)
    for t in range(steps):
        v2 = v2 + w2 @ s1
        v1 = v1 + w1 @ inputs[t]
        f1, f2 = v1 >= thresholds[0], v2 >= thresholds[1]
        v1[f1], v2[f2] = 0.0, 0.0
        s1 = f1.astype(float)
        spikes[t] = np.concatenate([f1, f2])
    return spikes


def test_if_network_spikes_exactly_like_the_float_graph(tmp_path):
    rng = np.random.default_rng(3)
    q = 1 << 10                                      # 12-bit signed state: 1024 per threshold
    w1 = rng.integers(-300, 700, size=(6, 4)) / q
    w2 = rng.integers(-400, 900, size=(3, 6)) / q
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([4])}),
               "fc1": nir.Linear(weight=w1),
               "if1": nir.IF(r=np.ones(6), v_threshold=np.ones(6), v_reset=np.zeros(6)),
               "fc2": nir.Linear(weight=w2 * 1.5),
               "if2": nir.IF(r=np.ones(3), v_threshold=np.full(3, 1.5), v_reset=np.zeros(3)),
               "output": nir.Output(output_type={"output": np.array([3])})},
        edges=[("input", "fc1"), ("fc1", "if1"), ("if1", "fc2"), ("fc2", "if2"),
               ("if2", "output")])
    status, out = _import(tmp_path, graph, "--bits", "12")
    assert status == 0
    net = load_network(out)
    inputs = (rng.random((60, 4)) < 0.5).astype(np.uint8)
    expected = ref_if_network(w1, w2 * 1.5, (1.0, 1.5), inputs)
    got = simulate(net, 60, inputs)
    assert expected.any()
    assert_array_equal(got.spikes, expected)
    # And the generated hardware runs the imported network bit-exactly.
    rtl = run_amaranth(plan_hardware(net, 2), 10, inputs[:10])
    assert_array_equal(rtl.spikes, got.spikes[:10])
    assert_array_equal(rtl.state, got.state[:10])


def test_recurrent_weights_and_subtract_reset(tmp_path):
    w_in = np.array([[0.5], [0.25]])
    w_rec = np.array([[0.0, -0.5], [0.5, 0.0]])
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([1])}),
               "fc": nir.Linear(weight=w_in),
               "lif": snntorch_lif(0.875, 1.0, 2),
               "rec": nir.Linear(weight=w_rec),
               "output": nir.Output(output_type={"output": np.array([2])})},
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"),
               ("lif", "output")])
    status, out = _import(tmp_path, graph, "--reset", "subtract", "--bits", "6")
    net = load_network(out)
    assert status == 0 and net.neuron.reset.value == "subtract" and net.neuron.leak_shift == 3
    assert_array_equal(net.weights, np.rint(w_rec * 16))


@pytest.mark.parametrize(("change", "message"), [
    (lambda g: g.nodes.__setitem__("flatten", nir.Delay(delay=np.ones(3))),
     "node 'flatten' (Delay) cannot be mapped: only Input, Flatten, Affine"),
    (lambda g: g.nodes.__setitem__("lif2", nir.CubaLIF(
        tau_syn=np.full(1, 1e-5), tau_mem=np.full(1, 1e-3), r=np.ones(1), v_leak=np.zeros(1),
        v_threshold=np.ones(1), v_reset=np.zeros(1))),
     "node 'lif2': tau_syn must be at least dt (0.0001 s), not 1e-05 s: check --dt"),
    (lambda g: g.nodes["lif1"].tau.__setitem__(0, 1e-5),
     "node 'lif1': tau must be at least dt (0.0001 s) for a forward-Euler decay"),
    (lambda g: g.nodes["lif1"].v_threshold.__setitem__(0, -1.0),
     "node 'lif1': v_threshold must be > 0, not -1"),
])
def test_unmappable_graphs_name_the_node(tmp_path, capsys, change, message):
    graph = two_layer_graph(np.ones((2, 3)) * 0.1, np.ones((1, 2)) * 0.1)
    change(graph)
    status, out = _import(tmp_path, graph)
    err = capsys.readouterr().err
    assert status == 2 and message in err and err.count("\n") == 1
    assert not out.exists()


def test_bad_import_input(tmp_path, capsys):
    assert main(["import", str(tmp_path / "missing.nir"), "--out", str(tmp_path / "n.json")]) == 2
    assert "MODEL.nir must be an existing file" in capsys.readouterr().err
    junk = tmp_path / "junk.nir"
    junk.write_bytes(b"not hdf5")
    assert main(["import", str(junk), "--out", str(tmp_path / "n.json")]) == 2
    assert "cannot read the NIR file" in capsys.readouterr().err
    graph = two_layer_graph(np.ones((2, 3)) * 0.1, np.ones((1, 2)) * 0.1)
    status, _ = _import(tmp_path, graph, "--dt", "0")
    assert status == 2 and "--dt must be a positive number" in capsys.readouterr().err


@pytest.mark.parametrize(("field", "value", "message"), [
    ("weight", float("nan"), "node 'fc' weight[1][1] must be a finite number, not nan"),
    ("tau", float("inf"), "node 'lif' tau[0] must be a finite number, not inf"),
])
@pytest.mark.parametrize("command", ["import", "quantize"])
def test_a_nan_or_infinite_parameter_is_one_line(tmp_path, capsys, field, value, message,
                                                 command):
    import nir

    weight = np.ones((3, 2))
    tau = np.full(3, 1e-3)
    if field == "weight":
        weight[1, 1] = value
    else:
        tau[0] = value
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(np.array([2])), "fc": nir.Affine(weight, np.zeros(3)),
               "lif": nir.LIF(tau=tau, r=np.ones(3), v_leak=np.zeros(3),
                              v_threshold=np.ones(3)),
               "output": nir.Output(np.array([3]))},
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")])
    path = tmp_path / "bad.nir"
    nir.write(str(path), graph)
    status = main([command, str(path), "--out", str(tmp_path / "net.json")])
    assert status == 2
    assert capsys.readouterr().err == f"snngen {command}: error: {message}\n"
    assert not (tmp_path / "net.json").exists()
