"""Per-layer quantization, Hessian-guided bit allocation, and the `quantize` command.

Graphs are made here with snnTorch's NIR conventions; the quantized networks are layered
(format version 2) and must run bit-exact in RTL like any other network.
"""

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from rtl_cases import stimulus
from test_nir import two_layer_graph

from snngen.cli import main
from snngen.errors import InputError
from snngen.hw.plan import plan_hardware
from snngen.model.golden import simulate
from snngen.model.network import load_network
from snngen.quant.nir_import import nir_to_float
from snngen.quant.quantize import (
    AUTO_CANDIDATES,
    allocate_bits,
    classify,
    parse_bits,
    parse_budget,
    quantize_layer,
    quantize_model,
    quantize_rows,
    weight_memory_bits,
)
from snngen.verify.amaranth import run_amaranth

nir = pytest.importorskip("nir", reason="pip install 'snngen[nir]'")


def float_model(seed=0, inputs=12, hidden=10, outputs=4):
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, 0.4, size=(hidden, inputs))
    w2 = rng.normal(0, 0.5, size=(outputs, hidden))
    return nir_to_float(two_layer_graph(w1, w2, beta=0.875, thresholds=(1.0, 1.0)))


# ---- the layer quantizer ----------------------------------------------------------------------

@given(st.integers(0, 2**32 - 1), st.integers(2, 16))
def test_layer_quantizer_stays_in_range_and_matches_its_error(seed, bits):
    weights = np.random.default_rng(seed).normal(0, 1, size=40)
    threshold, integer, _ratio, error, _clipped = quantize_layer(weights, bits)
    assert threshold >= 1
    assert integer.min() >= -(1 << (bits - 1)) and integer.max() <= (1 << (bits - 1)) - 1
    assert error == pytest.approx(float(((integer / threshold - weights) ** 2).sum()))


def test_layer_quantizer_error_falls_with_bits():
    weights = np.random.default_rng(1).normal(0, 1, size=500)
    errors = [quantize_layer(weights, bits)[3] for bits in range(2, 17)]
    assert all(later <= earlier for earlier, later in itertools.pairwise(errors))
    assert errors[-1] < 1e-6 * errors[0]


def test_per_neuron_scales_never_round_worse_than_one_per_layer():
    model = float_model(seed=8)
    block, declared = model.layer_weights(0), model.structure[model.layer_rows(0)]
    for bits in (2, 3, 4, 8):
        per_neuron = quantize_rows(block, declared, bits, "neuron")
        per_layer = quantize_rows(block, declared, bits, "layer")
        assert per_neuron[2] <= per_layer[2] + 1e-12
        assert len(set(per_layer[0].tolist())) == 1


def test_layer_quantizer_with_a_fixed_threshold_rounds_on_that_grid():
    weights = np.array([0.26, -0.74, 1.9, -3.0])
    threshold, integer, _, _, clipped = quantize_layer(weights, 3, threshold=2)
    assert threshold == 2
    assert_array_equal(integer, [1, -1, 3, -4])  # 0.52→1, −1.48→−1, 3.8→3 (clip), −6→−4 (clip)
    assert clipped == 2


# ---- whole models ---------------------------------------------------------------------------

@pytest.mark.parametrize("granularity", ["neuron", "layer"])
@pytest.mark.parametrize("bits", [[16, 16], [8, 8], [4, 4], [8, 3], [2, 6]])
def test_quantized_model_honours_each_layer(bits, granularity):
    model = float_model()
    network, reports = quantize_model(model, bits, granularity=granularity)
    assert [layer.weight_bits for layer in network.layers] == bits
    assert network.weight_bits == max(bits)
    for index, (layer, first, end) in enumerate(network.layer_spans):
        rows = np.concatenate([network.weights[first:end], network.input_weights[first:end]], 1)
        lo, hi = -(1 << (bits[index] - 1)), (1 << (bits[index] - 1)) - 1
        assert rows.min() >= lo and rows.max() <= hi
        assert_array_equal(np.broadcast_to(network.thresholds, (network.neurons,))[first:end],
                           reports[index].thresholds)
        if granularity == "layer":
            assert layer.threshold == reports[index].threshold is not None
        # The state holds 4× the largest threshold (the headroom the docs promise).
        assert network.state.max >= 4 * max(max(r.thresholds) for r in reports) - 1
    assert network.extra["quantization"]["bits"] == bits


def test_sixteen_bits_spike_like_the_unrounded_model():
    """At 16 bits the integer network reproduces the float model's spikes (one layer per step)."""
    torch = pytest.importorskip("torch", reason="pip install 'snngen[train]'")
    from snngen.quant.train import layered_snn

    model = float_model(seed=3)
    network, _ = quantize_model(model, [16, 16])
    x = stimulus(3, 30, model.inputs, rate=0.4)[None]
    readout = model.layer_rows(1)
    with torch.no_grad():
        counts = layered_snn(model)(torch.tensor(x, dtype=torch.float64)).numpy()
    padded = np.concatenate([x[0], np.zeros((1, model.inputs), np.uint8)])
    trace = simulate(network, len(padded), padded)
    assert_array_equal(trace.spikes[:, readout].sum(axis=0), counts[0])


@pytest.mark.parametrize("bits", [[8, 3], [4, 6]])
def test_quantized_network_is_bit_exact_in_rtl(bits):
    network, _ = quantize_model(float_model(seed=2), bits)
    plan = plan_hardware(network, None)
    assert plan.weight_widths[0] <= bits[0] and plan.weight_widths[-1] <= bits[1]
    inputs = stimulus(2, 14, network.inputs, rate=0.5)
    expected = simulate(network, 14, inputs)
    assert expected.spikes.any()
    got = run_amaranth(plan, 14, inputs)
    assert_array_equal(got.spikes, expected.spikes)
    assert_array_equal(got.state, expected.state)


def test_classify_counts_the_readout_layer():
    network, _ = quantize_model(float_model(seed=4), [8, 8])
    x = np.stack([stimulus(s, 10, network.inputs, rate=0.5) for s in range(6)])
    readout = slice(10, 14)
    predicted = classify(network, x, readout)
    for sample in range(6):
        padded = np.concatenate([x[sample], np.zeros((1, network.inputs), np.uint8)])
        counts = simulate(network, 11, padded).spikes[:, readout].sum(axis=0)
        assert predicted[sample] == int(np.argmax(counts))


# ---- bit allocation -------------------------------------------------------------------------

def test_allocation_respects_the_budget_and_follows_sensitivity():
    model = float_model()
    counts = [model.layer_weight_count(i) for i in range(2)]
    budget = weight_memory_bits(model, [4, 4])
    sharp_first, _ = allocate_bits(model, [1000.0, 0.001], budget)
    sharp_second, _ = allocate_bits(model, [0.001, 1000.0], budget)
    for bits in (sharp_first, sharp_second):
        assert sum(c * b for c, b in zip(counts, bits, strict=True)) <= budget
    assert sharp_first[0] > sharp_second[0]
    assert sharp_second[1] > sharp_first[1]


@settings(max_examples=20, deadline=None)
@given(st.floats(0, 100), st.floats(0, 100), st.integers(30, 80))
def test_allocation_is_the_brute_force_optimum(trace_a, trace_b, percent):
    model = float_model(seed=5)
    budget = parse_budget(f"{percent}%", model)
    bits, omega = allocate_bits(model, [trace_a, trace_b], budget)
    errors = [{b: quantize_rows(model.layer_weights(i), model.structure[model.layer_rows(i)], b,
                                "neuron")[2] for b in AUTO_CANDIDATES} for i in range(2)]
    counts = [model.layer_weight_count(i) for i in range(2)]
    best = min(
        (trace_a / counts[0] * errors[0][a] + trace_b / counts[1] * errors[1][b])
        for a, b in itertools.product(AUTO_CANDIDATES, repeat=2)
        if counts[0] * a + counts[1] * b <= budget)
    assert omega == pytest.approx(best)
    assert weight_memory_bits(model, bits) <= budget


def test_parsing_bits_and_budgets():
    model = float_model()
    assert parse_bits("8", 2) == [8, 8]
    assert parse_bits("8,4", 2) == [8, 4]
    assert parse_bits("auto", 2) == "auto"
    assert parse_budget("50%", model) == weight_memory_bits(model, [4, 4])
    assert parse_budget("1000", model) == 1000
    for text, message in (("8,4,4", "one width for each of the 2 layers, not 3"),
                          ("1", "--bits widths must be in 2..16, not 1"),
                          ("eight", "--bits must be auto")):
        with pytest.raises(InputError, match=message):
            parse_bits(text, 2)
    with pytest.raises(InputError, match="--budget must be a bit count"):
        parse_budget("lots", model)
    with pytest.raises(InputError, match="below the smallest network"):
        allocate_bits(model, [1.0, 1.0], 10)


# ---- Hutchinson ------------------------------------------------------------------------------

@pytest.mark.full
def test_hutchinson_matches_the_exact_hessian_trace():
    """On a network small enough for the full Hessian, the estimate converges to its trace."""
    torch = pytest.importorskip("torch", reason="pip install 'snngen[train]'")
    from snngen.quant.train import hutchinson_traces, layered_snn

    model = float_model(seed=6, inputs=4, hidden=3, outputs=2)
    x = np.stack([stimulus(s, 8, 4, rate=0.6) for s in range(16)])
    y = np.arange(16) % 2
    estimate = hutchinson_traces(model, x, y, probes=3000, seed=1)
    network = layered_snn(model)
    xt, yt = torch.tensor(x, dtype=torch.float64), torch.tensor(y)
    for index, weights in enumerate(network.layer_weights):
        mask = network.masks[index].reshape(-1).bool()

        def loss_of(flat, index=index):
            blocks = [w.detach() for w in network.layer_weights]
            blocks[index] = flat.reshape(blocks[index].shape)
            network.weight_transform = lambda _ws, blocks=blocks: blocks
            try:
                return torch.nn.functional.cross_entropy(network(xt), yt)
            finally:
                network.weight_transform = None

        hessian = torch.autograd.functional.hessian(loss_of, weights.detach().reshape(-1))
        exact = float(torch.diagonal(hessian)[mask].sum())
        assert estimate[index] == pytest.approx(exact, rel=0.1, abs=1e-3), index


# ---- the command ----------------------------------------------------------------------------

def _write_model(tmp_path, seed=0):
    rng = np.random.default_rng(seed)
    path = tmp_path / "model.nir"
    nir.write(path, two_layer_graph(rng.normal(0, 0.4, (10, 12)), rng.normal(0, 0.5, (4, 10)),
                                    beta=0.875, thresholds=(1.0, 1.0)))
    return path


def _write_data(tmp_path, samples=40, name="data.npz"):
    rng = np.random.default_rng(7)
    path = tmp_path / name
    np.savez(path, inputs=(rng.random((samples, 10, 12)) < 0.4).astype(np.uint8),
             labels=rng.integers(0, 4, size=samples))
    return path


def test_quantize_command_writes_a_layered_network(tmp_path, capsys):
    model = _write_model(tmp_path)
    data = _write_data(tmp_path)
    out = tmp_path / "net.json"
    assert main(["quantize", str(model), "--out", str(out), "--bits", "8,3",
                 "--eval", str(data)]) == 0
    text = capsys.readouterr().out
    assert "weight memory" in text and "accuracy" in text
    network = load_network(out)
    assert [layer.weight_bits for layer in network.layers] == [8, 3]
    assert main(["quantize", str(model), "--out", str(out), "--bits", "4", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["bits"] == [4, 4] and summary["weight_memory_vs_8bit"] == 0.5


@pytest.mark.parametrize(("argv", "message"), [
    (["--bits", "auto"], "--data TRAIN.npz is needed for --bits auto"),
    (["--bits", "9,9,9"], "--bits must give one width for each of the 2 layers, not 3"),
    (["--bits", "8", "--state-bits", "4"], "--state-bits 4 cannot hold the largest threshold"),
    (["--bits", "8", "--eval", "missing.npz"], "missing.npz: no such file"),
])
def test_quantize_command_errors_are_one_line(tmp_path, capsys, argv, message):
    model = _write_model(tmp_path)
    out = tmp_path / "net.json"
    assert main(["quantize", str(model), "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_quantize_command_rejects_bad_data(tmp_path, capsys):
    model = _write_model(tmp_path)
    bad = tmp_path / "bad.npz"
    np.savez(bad, inputs=np.zeros((3, 5, 12), np.uint8), labels=np.array([0, 1, 9]))
    assert main(["quantize", str(model), "--out", str(tmp_path / "n.json"),
                 "--eval", str(bad)]) == 2
    assert "labels must be in 0..3 (the readout layer has 4 neurons), not 0..9" in \
        capsys.readouterr().err


def test_quantize_auto_command(tmp_path, capsys):
    pytest.importorskip("torch", reason="pip install 'snngen[train]'")
    model = _write_model(tmp_path)
    data = _write_data(tmp_path)
    out = tmp_path / "net.json"
    assert main(["quantize", str(model), "--out", str(out), "--bits", "auto", "--budget", "45%",
                 "--data", str(data), "--probes", "8", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["weight_memory_vs_8bit"] <= 0.45
    assert len(summary["hessian_traces"]) == 2
    assert [layer.weight_bits for layer in load_network(out).layers] == summary["bits"]


def test_quantize_is_deterministic(tmp_path):
    """The same command and inputs give the same bytes (auto: the Hessian probes are seeded)."""
    pytest.importorskip("torch", reason="pip install 'snngen[train]'")
    model = _write_model(tmp_path)
    data = _write_data(tmp_path)
    texts = []
    for name in ("a.json", "b.json"):
        out = tmp_path / name
        assert main(["quantize", str(model), "--out", str(out), "--bits", "auto", "--data",
                     str(data), "--probes", "4", "--json"]) == 0
        texts.append(out.read_bytes())
    assert texts[0] == texts[1]


def test_wilson_intervals_match_published_values():
    from snngen.quant.demo import wilson_interval

    # Newcombe (1998), Table I: 81/263 → 0.2553–0.3662; 15/148 → 0.0624–0.1605.
    for successes, trials, low, high in ((81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605)):
        got = wilson_interval(successes, trials)
        assert abs(got[0] - low) < 5e-4 and abs(got[1] - high) < 5e-4, got
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
