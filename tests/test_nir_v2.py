"""NIR graphs that need semantics v2: CubaLIF, CubaLI, LI, I, Threshold, Scale, per-neuron τ, and
the NIR paper's braille network.

``ref_*`` is :func:`~snngen.quant.nir_import.simulate_float`, the graph's own discrete-time
semantics (every feed-forward hop within the step); the integer layer at depth ℓ is that model
delayed by ℓ − 1 steps, so ``integer_as_float`` shifts it back before comparing.
"""

from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from test_rtl_amaranth import assert_bit_exact

from snngen.cli import main
from snngen.errors import InputError
from snngen.model.golden import simulate
from snngen.model.network import load_network
from snngen.quant.nir_import import import_nir, nir_to_float, simulate_float
from snngen.quant.quantize import quantize_model

nir = pytest.importorskip("nir", reason="pip install 'snngen[nir]'")

DT = 1e-4
BRAILLE = Path(__file__).resolve().parents[2] / "shared" / "nir" / "braille_noDelay_bias_zero.nir"


def integer_as_float(network, model, inputs):
    """The integer run re-timed as the float model's: layer at depth ℓ shifted back ℓ − 1."""
    depth = model.dynamics.depth
    extra = int(depth.max()) - 1
    padded = np.vstack([inputs, np.zeros((extra, inputs.shape[1]), dtype=inputs.dtype)])
    spikes = simulate(network, len(padded), padded).spikes
    steps = len(inputs)
    return np.stack([spikes[d - 1:d - 1 + steps, i] for i, d in enumerate(depth)], axis=1)


def cuba(size, alpha, beta, threshold=1.0, w_in=1.0):
    """A CubaLIF as snnTorch exports ``Synaptic(alpha, beta)``: τ = dt/(1 − decay)."""
    tau_syn, tau_mem = DT / (1 - alpha), DT / (1 - beta)
    return nir.CubaLIF(tau_syn=np.full(size, tau_syn), tau_mem=np.full(size, tau_mem),
                       r=np.full(size, tau_mem / DT), v_leak=np.zeros(size),
                       v_threshold=np.full(size, threshold), v_reset=np.zeros(size),
                       w_in=np.full(size, tau_syn / DT))


def cuba_graph(w1, b1, w2, b2, w_rec=None):
    k, h, o = w1.shape[1], w1.shape[0], w2.shape[0]
    nodes = {"input": nir.Input(input_type={"input": np.array([k])}),
             "fc1": nir.Affine(weight=w1, bias=b1), "lif1": cuba(h, 0.5, 0.5),
             "fc2": nir.Affine(weight=w2, bias=b2), "lif2": cuba(o, 0.5, 0.75, threshold=2.0),
             "output": nir.Output(output_type={"output": np.array([o])})}
    edges = [("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"),
             ("lif2", "output")]
    if w_rec is not None:
        nodes["rec"] = nir.Linear(weight=w_rec)
        edges += [("lif1", "rec"), ("rec", "lif1")]
    return nir.NIRGraph(nodes=nodes, edges=edges)


@pytest.mark.parametrize("recurrent", [False, True])
def test_cubalif_on_the_grid_spikes_exactly_like_the_float_graph(recurrent):
    """Weights and biases on a 1/16 grid, decays of 1/2 and 1/4: the 24-bit integer network
    holds every value exactly for the run, so it must spike exactly as the float graph does,
    the deeper layer's bias delayed with its input."""
    rng = np.random.default_rng(1 + recurrent)
    w1 = rng.integers(-8, 24, size=(5, 3)) / 16
    w2 = rng.integers(-8, 24, size=(2, 5)) / 16
    b1, b2 = rng.integers(-2, 3, size=5) / 16, rng.integers(0, 4, size=2) / 16
    w_rec = rng.integers(-8, 8, size=(5, 5)) / 16 if recurrent else None
    graph = cuba_graph(w1, b1, w2, b2, w_rec)
    model = nir_to_float(graph, dt=DT)
    network, report = import_nir(graph, bits=28, weight_bits=24, dt=DT)
    assert network.dynamics.current is not None and report.clipped == 0
    assert network.dynamics.bias_delay.tolist() == [0] * 5 + [1] * 2
    assert network.dynamics.current.decay_parameter.tolist() == [2048] * 7
    assert network.dynamics.membrane_decay_parameter.tolist() == [2048] * 5 + [1024] * 2
    inputs = (rng.random((12, 3)) < 0.5).astype(np.uint8)
    expected = simulate_float(model, inputs)
    assert expected[:, 5:].any()
    assert_array_equal(integer_as_float(network, model, inputs), expected)


def test_li_threshold_scale_and_integrator_nodes():
    """Input → Linear → Scale → Threshold → Linear → LI, and → I: a Threshold neuron has no
    memory and spikes when its input exceeds θ, LI and I integrate and never spike."""
    w1 = np.array([[1.0, 0.5], [0.25, -1.0]])
    w2 = np.array([[0.5, 0.25], [1.0, 0.0]])
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([2])}),
               "fc1": nir.Linear(weight=w1), "scale": nir.Scale(scale=np.array([1.0, 2.0])),
               "thr": nir.Threshold(threshold=np.array([0.75, 0.5])),
               "fc2": nir.Linear(weight=w2),
               "li": nir.LI(tau=np.full(2, 2 * DT), r=np.full(2, 2.0), v_leak=np.zeros(2)),
               "fc3": nir.Linear(weight=np.eye(2)), "int": nir.I(r=np.ones(2)),
               "output": nir.Output(output_type={"output": np.array([2])})},
        edges=[("input", "fc1"), ("fc1", "scale"), ("scale", "thr"), ("thr", "fc2"),
               ("fc2", "li"), ("li", "output"), ("thr", "fc3"), ("fc3", "int")])
    model = nir_to_float(graph, dt=DT)
    assert [layer["kind"] for layer in model.layers] == ["Threshold", "LI", "I"]
    assert_array_equal(model.incoming[:2], w1 * np.array([[1.0], [2.0]])
                       / np.array([[0.75], [0.5]]))
    network, _ = import_nir(graph, bits=16, dt=DT)
    assert network.thresholds[2:].tolist() == [network.state.max] * 4
    inputs = np.random.default_rng(3).integers(0, 2, size=(20, 2)).astype(np.uint8)
    expected = simulate_float(model, inputs)
    assert expected[:, :2].any() and not expected[:, 2:].any()
    assert_array_equal(integer_as_float(network, model, inputs), expected)
    # The integrators' membranes are the output: they track the threshold neurons' spikes.
    trace = simulate(network, 21, np.vstack([inputs, [[0, 0]]]))
    assert (np.diff(trace.state[:, 4:], axis=0) >= 0).all() and trace.state[-1, 4:].any()


def test_per_neuron_tau_and_v_leak_are_v2_decays():
    graph = cuba_graph(np.ones((2, 2)) * 0.5, np.zeros(2), np.ones((1, 2)), np.zeros(1))
    lif = nir.LIF(tau=np.array([2 * DT, 4 * DT]), r=np.array([2.0, 4.0]),
                  v_leak=np.array([0.0, 0.5]), v_threshold=np.ones(2), v_reset=np.zeros(2))
    graph.nodes["lif1"] = lif
    network, _ = import_nir(graph, bits=16, dt=DT)
    assert network.dynamics.membrane_decay_parameter[:2].tolist() == [2048, 1024]
    # v_leak·dt/τ of the second neuron is a membrane bias of 1/8 threshold.
    assert network.bias[1] == network.neuron.threshold // 8 and network.bias[0] == 0


def test_a_graph_nir_refuses_to_type_check_still_imports(tmp_path):
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(np.array([3])), "fc": nir.Linear(np.ones((2, 3)) * 0.25),
               "li": nir.LI(tau=np.full(2, 1e-3), r=np.ones(2), v_leak=np.zeros(2)),
               "output": nir.Output(np.array([5]))},
        edges=[("input", "fc"), ("fc", "li"), ("li", "output")], type_check=False)
    path = tmp_path / "untyped.nir"
    nir.write(str(path), graph)
    with pytest.raises(ValueError, match="type mismatch"):
        nir.read(str(path))
    network, report = import_nir(path, bits=12)
    assert network.neurons == 2
    assert any("type check" in note for note in report.notes)


def test_snntorch_synaptic_export_imports(monkeypatch):
    """snnTorch's own exporter: Linear + Synaptic layers become CubaLIF nodes; their α and β
    come back as the decays (d = 4096·(1 − α)).

    snnTorch 1.0 writes its CubaLIF nodes without shapes, which nir 1.0's type check refuses
    inside the exporter itself (its final ``infer_types``); without that call the exporter
    returns the graph, and snngen maps it (docs/nir.md)."""
    torch = pytest.importorskip("torch", reason="pip install 'snngen[train]'")
    snn = pytest.importorskip("snntorch", reason="pip install 'snngen[train]'")
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(4, 3), snn.Synaptic(alpha=0.5, beta=0.75, init_hidden=True),
        torch.nn.Linear(3, 2), snn.Synaptic(alpha=0.25, beta=0.5, init_hidden=True,
                                            output=True))
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "nirtorch.extract_nir_graph", DeprecationWarning)
        with pytest.raises(ValueError, match="Type inference error"):
            export_to_nir(net, torch.zeros(4))
        # The exporter's last call, NIRGraph.infer_types, is the check that fails.
        monkeypatch.setattr(nir.NIRGraph, "infer_types", lambda graph: None)
        graph = export_to_nir(net, torch.zeros(4))
        monkeypatch.undo()
    kinds = sorted(type(node).__name__ for node in graph.nodes.values())
    assert kinds.count("CubaLIF") == 2
    network, _ = import_nir(graph, bits=16, dt=DT)
    assert network.dynamics.current.decay_parameter.tolist() == [2048] * 3 + [3072] * 2
    assert network.dynamics.membrane_decay_parameter.tolist() == [1024] * 3 + [2048] * 2
    model = nir_to_float(graph, dt=DT)
    weights = net[0].weight.detach().numpy().astype(np.float64)
    # snnTorch's CubaLIF carries its weights unchanged (r·dt/τ_mem·w_in·dt/τ_syn = 1).
    np.testing.assert_allclose(model.incoming[:3], weights, rtol=1e-5)


@pytest.fixture(scope="module")
def braille_model():
    if not BRAILLE.exists():
        pytest.skip(f"the braille graph is not at {BRAILLE}")
    return nir_to_float(BRAILLE, dt=DT)


def test_braille_graph_maps_as_the_paper_describes(braille_model):
    model = braille_model
    assert [(layer["name"], layer["kind"], layer["first"], layer["last"])
            for layer in model.layers] == [("lif1.lif", "CubaLIF", 0, 37), ("lif2", "CubaLIF",
                                                                            38, 44)]
    # 38 × 38 recurrent weights into lif1, 7 × 38 forward into lif2, 38 × 12 from the input.
    assert model.structure[:38, :38].all() and model.structure[38:, :38].all()
    assert model.structure[:38, 45:].all() and not model.structure[38:, 45:].any()
    assert model.dynamics.depth.tolist() == [1] * 38 + [2] * 7


@pytest.mark.parametrize("bits", [16, 8])
def test_braille_quantized_agrees_with_its_float_model(braille_model, bits):
    """A smoke-sized share of benchmarks/bench_braille.py's 500 spike trains."""
    network, _ = quantize_model(braille_model, [bits, bits], reset="zero")
    rng = np.random.default_rng(bits)
    agree = 0
    for sample in range(10):
        inputs = (rng.random((256, 12)) < (0.05, 0.1, 0.2, 0.3, 0.4)[sample % 5]).astype(
            np.uint8)
        expected = simulate_float(braille_model, inputs)
        got = integer_as_float(network, braille_model, inputs)
        agree += np.argmax(expected[:, 38:].sum(0)) == np.argmax(got[:, 38:].sum(0))
        assert (got == expected).mean() > 0.9
    assert agree >= (10 if bits == 16 else 8)


def test_braille_builds_and_runs_bit_exact_in_hardware(tmp_path, capsys):
    if not BRAILLE.exists():
        pytest.skip(f"the braille graph is not at {BRAILLE}")
    out = tmp_path / "braille.json"
    assert main(["quantize", str(BRAILLE), "--bits", "8", "--reset", "zero", "--out",
                 str(out)]) == 0
    network = load_network(out)
    assert network.dynamics.current is not None and network.weight_bits == 8
    inputs = (np.random.default_rng(0).random((6, 12)) < 0.3).astype(np.uint8)
    assert_bit_exact(network, 2, 6, inputs)


def _import_onto(compat, tmp_path, capsys):
    """`snngen import --compat` of the braille graph: the network (a valid preset network,
    bit-exact in hardware) and what the command printed."""
    from snngen.model.compat import check_compat

    out = tmp_path / f"{compat}.json"
    assert main(["import", str(BRAILLE), "--compat", compat, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    network = load_network(out)
    check_compat(network)
    assert network.dynamics.compat == compat
    inputs = (np.random.default_rng(4).random((8, 12)) < 0.4).astype(np.uint8)
    assert_bit_exact(network, 2, 8, inputs)
    return network, printed


def _classes_agreeing(model, network, delay):
    """Of 10 random trains, how many the network classifies as the float graph does, its
    output read `delay` steps late."""
    agree = 0
    for sample in range(10):
        x = (np.random.default_rng(sample).random((256, 12)) < 0.2).astype(np.uint8)
        want = simulate_float(model, x)
        padded = np.vstack([x, np.zeros((delay, 12), np.uint8)])
        counts = simulate(network, 256 + delay, padded).spikes[delay:]
        agree += np.argmax(want[:, 38:].sum(0)) == np.argmax(counts[:, 38:].sum(0))
    return agree


def test_braille_onto_loihi_says_what_it_rounded(braille_model, tmp_path, capsys):
    """`import --compat loihi`: a preset network (checked by the preset's own rules), the
    roundings named, bit-exact in hardware and, where Lava runs, in Lava itself."""
    from snngen.quant.nir_import import import_nir_compat

    network, printed = _import_onto("loihi", tmp_path, capsys)
    assert "Loihi has no bias on the synaptic current" in printed
    assert "weight_exp 7 (recurrent)" in printed
    assert network.weight_bits == 9
    assert not (network.weights % 2).any() and np.abs(network.weights).max() <= 254
    # It still reads the braille task's inputs much as the float graph does (Lava's Dense
    # delivers a step late).
    assert _classes_agreeing(braille_model, network, delay=1) >= 5
    with pytest.raises(InputError, match="--compat must be xylo or loihi, not 'spinnaker'"):
        import_nir_compat(BRAILLE, "spinnaker")
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from peers import lava_python, run_lava

    python = lava_python()
    if python is None:
        pytest.skip("no Lava environment for the Lava half of this test")
    x = (np.random.default_rng(9).random((60, 12)) < 0.3).astype(np.int64)
    x[0] = 0  # Lava's Dense delivers one step late: nothing can arrive at step 1
    ref = simulate(network, 60, x)
    lava = run_lava(python, network, x, tmp_path)
    assert ref.spikes.any()
    assert_array_equal(lava["spikes"], ref.spikes)
    assert_array_equal(lava["state"], ref.state)
    assert_array_equal(lava["current"], ref.current)


def test_a_graph_of_only_leaky_integrators_never_spikes():
    """Every neuron an LI: the one network threshold is the lattice's top too (it was the
    scale, and the integrators spiked)."""
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([2])}),
               "fc": nir.Linear(weight=np.array([[1.0, 0.5], [0.5, 1.0]])),
               "li": nir.LI(tau=np.full(2, 4 * DT), r=np.full(2, 4.0), v_leak=np.zeros(2)),
               "output": nir.Output(output_type={"output": np.array([2])})},
        edges=[("input", "fc"), ("fc", "li"), ("li", "output")])
    network, _ = import_nir(graph, bits=12, dt=DT)
    assert network.neuron.threshold == network.state.max
    trace = simulate(network, 30, np.ones((30, 2), dtype=np.uint8))
    assert not trace.spikes.any() and trace.state[-1].min() > network.state.max // 16


def test_braille_onto_xylo_says_what_it_rounded(braille_model, tmp_path, capsys):
    """`import --compat xylo`: a preset network (the preset's own rules), the roundings
    named, bit-exact in hardware and in XyloSim, and still reading the inputs as the float
    graph does."""
    import sys

    network, printed = _import_onto("xylo", tmp_path, capsys)
    assert "Xylo decays the current after adding the step's events" in printed
    assert "dash_syn: τ/dt became a power of two" in printed
    assert network.layers[1].size == 7
    assert _classes_agreeing(braille_model, network, delay=0) >= 7

    sys.path.insert(0, str(Path(__file__).parent))
    from peers import load_xylosim, run_xylosim

    if load_xylosim() is None:
        pytest.skip("rockpool and xylosim are not installed (pip install 'snngen[test]')")
    x = (np.random.default_rng(9).random((300, 12)) < 0.3).astype(np.int64)
    ref = simulate(network, 300, x)
    peer = run_xylosim(network, x)
    for name in ("spikes", "state", "current"):
        assert_array_equal(getattr(ref, name), peer[name], err_msg=name)
