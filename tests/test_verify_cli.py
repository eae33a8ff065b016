"""snngen verify --sim amaranth: exit status, the first mismatch, --out, --vcd, bad input."""

import json

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import snngen.cli.hardware
from snngen.cli import main
from snngen.model.generate import random_network
from snngen.model.golden import Trace, simulate
from snngen.model.network import load_network, save_network


@pytest.fixture
def network_file(tmp_path):
    path = tmp_path / "net.json"
    save_network(random_network(neurons=12, inputs=3, bits=6, density=0.4, seed=3), path)
    return path


def test_bit_exact_run_exits_zero_and_writes_the_rtl_trace(tmp_path, network_file, capsys):
    stim = tmp_path / "stim.npz"
    x = (np.random.default_rng(1).random((15, 3)) < 0.4).astype(np.uint8)
    np.savez(stim, inputs=x)
    status = main(["verify", str(network_file), "--steps", "15", "--input", str(stim),
                   "--groups", "3", "--out", str(tmp_path / "rtl.npz"), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert status == 0 and summary["bit_exact"] and summary["first_mismatch"] is None
    expected = simulate(load_network(network_file), 15, x)
    with np.load(tmp_path / "rtl.npz") as trace:
        assert_array_equal(trace["spikes"], expected.spikes)
        assert_array_equal(trace["state"], expected.state)
        assert trace["state"].dtype == np.int64 and trace["spikes"].dtype == np.uint8
    assert summary["spikes"] == int(expected.spikes.sum())


def test_mismatch_exits_one_and_names_step_neuron_expected_got(network_file, capsys,
                                                              monkeypatch):
    """Corrupt the reference the RTL is compared with: the command must notice and say where."""
    real = snngen.cli.hardware.simulate

    def corrupted(network, steps, inputs=None, **options):
        trace = real(network, steps, inputs, **options)
        state = trace.state.copy()
        state[4, 7] += 1
        return Trace(spikes=trace.spikes, state=state)

    monkeypatch.setattr(snngen.cli.hardware, "simulate", corrupted)
    status = main(["verify", str(network_file), "--steps", "8"])
    captured = capsys.readouterr()
    got = int(real(load_network(network_file), 8).state[4, 7])
    assert status == 1
    assert captured.err == (f"snngen verify: error: mismatch at step 5, neuron 7: state expected "
                            f"{got + 1}, got {got}\n")


def test_readable_summary_and_waveform(tmp_path, network_file, capsys):
    vcd = tmp_path / "run.vcd"
    assert main(["verify", str(network_file), "--steps", "3", "--vcd", str(vcd),
                 "--stall-seed", "4"]) == 0
    assert capsys.readouterr().out.startswith("bit-exact: 3 steps × 12 neurons")
    text = vcd.read_text()
    assert "$enddefinitions" in text and "spikes__valid" in text


@pytest.mark.parametrize("sim", ["amaranth", "icarus"])
def test_small_spike_queues_verify_bit_exact(tmp_path, network_file, capsys, sim):
    """--spike-queue-depth 2: every sweep of the 12 neurons waits for room, in Amaranth's
    simulator and in the generated Verilog under Icarus."""
    stim = tmp_path / "stim.npz"
    np.savez(stim, inputs=(np.random.default_rng(2).random((10, 3)) < 0.5).astype(np.uint8))
    status = main(["verify", str(network_file), "--steps", "10", "--input", str(stim),
                   "--spike-queue-depth", "2", "--sim", sim, "--json",
                   "--build-dir", str(tmp_path / "build")][:None if sim == "icarus" else -2])
    summary = json.loads(capsys.readouterr().out)
    assert status == 0 and summary["bit_exact"] and summary["spikes"] > 0
    if sim == "icarus":
        manifest = json.loads((tmp_path / "build" / "manifest.json").read_text())
        assert manifest["parameters"]["spike_queue_depth_per_group"] == [2]


@pytest.mark.parametrize(("argv", "message"), [
    (["--steps", "0"], "--steps must be in 1..1000000000, not 0"),
    (["--steps", "5", "--groups", "13"], "--groups must be in 1..12 for 12 neurons, not 13"),
    (["--steps", "5", "--sim", "modelsim"], "argument --sim: invalid choice: 'modelsim'"),
    (["--steps", "5", "--out", "/nonexistent/t.npz"], "--out must be in an existing directory"),
    (["--steps", "5", "--spike-queue-depth", "-1"],
     "argument --spike-queue-depth: must be in 0..16777216 entries, not -1"),
])
def test_bad_verify_input(tmp_path, network_file, capsys, argv, message):
    status = main(["verify", str(network_file), *argv])
    err = capsys.readouterr().err
    assert status == 2 and message in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.json"]
