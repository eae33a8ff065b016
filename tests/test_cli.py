"""The network and sim commands: happy paths, determinism, and the corpus of bad inputs."""

import json
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from snngen.cli import main
from snngen.model.golden import simulate
from snngen.model.network import load_network


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_network_then_sim(tmp_path, capsys):
    net, trace = tmp_path / "net.json", tmp_path / "trace.npz"
    status, out, err = run(capsys, "network", "--out", net)
    assert (status, err) == (0, "")
    assert "128 neurons" in out
    status, out, err = run(capsys, "sim", net, "--steps", 1000, "--out", trace)
    assert (status, err) == (0, "")
    assert "firing rate" in out
    with np.load(trace) as archive:
        spikes, state = archive["spikes"], archive["state"]
    assert spikes.dtype == np.uint8 and spikes.shape == (1000, 128)
    assert state.dtype == np.int64 and state.shape == (1000, 128)
    expected = simulate(load_network(net), 1000)
    assert_array_equal(spikes, expected.spikes)
    assert_array_equal(state, expected.state)


def test_sim_with_stimulus_and_json_summary(tmp_path, capsys):
    net, stim, trace = tmp_path / "net.json", tmp_path / "stim.npz", tmp_path / "trace.npz"
    run(capsys, "network", "--neurons", 20, "--inputs", 3, "--bits", 6, "--reset", "zero",
        "--overflow", "wrap", "--representation", "unsigned", "--leak-shift", "none",
        "--out", net)
    x = (np.random.default_rng(0).random((50, 3)) < 0.3).astype(np.uint8)
    np.savez(stim, inputs=x)
    status, out, _ = run(capsys, "sim", net, "--steps", 40, "--input", stim, "--out", trace,
                         "--json")
    assert status == 0
    summary = json.loads(out)
    assert summary["steps"] == 40 and summary["driven"] is True and summary["orbit"] is None
    network = load_network(net)
    assert network.neuron.leak_shift is None
    with np.load(trace) as archive:
        assert_array_equal(archive["state"], simulate(network, 40, x[:40]).state)


def test_sim_reports_orbit(tmp_path, capsys):
    net, trace = tmp_path / "net.json", tmp_path / "trace.npz"
    run(capsys, "network", "--neurons", 3, "--bits", 3, "--reset", "none", "--out", net)
    status, out, _ = run(capsys, "sim", net, "--steps", 500, "--out", trace, "--json")
    orbit = json.loads(out)["orbit"]
    assert status == 0 and orbit is not None and orbit["period"] >= 1


def test_outputs_are_byte_identical(tmp_path, capsys):
    for name in ("a", "b"):
        run(capsys, "network", "--seed", 4, "--out", tmp_path / f"{name}.json")
        run(capsys, "sim", tmp_path / f"{name}.json", "--steps", 100,
            "--out", tmp_path / f"{name}.npz")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


@pytest.mark.parametrize("method", ["dense", "event"])
def test_sim_methods_write_the_same_trace(tmp_path, capsys, method):
    run(capsys, "network", "--neurons", 300, "--density", 0.02, "--out", tmp_path / "n.json")
    run(capsys, "sim", tmp_path / "n.json", "--steps", 50, "--method", method,
        "--out", tmp_path / f"{method}.npz")
    run(capsys, "sim", tmp_path / "n.json", "--steps", 50, "--out", tmp_path / "auto.npz")
    assert (tmp_path / f"{method}.npz").read_bytes() == (tmp_path / "auto.npz").read_bytes()


def test_module_entry_point_and_help(tmp_path):
    result = subprocess.run([sys.executable, "-m", "snngen", "--help"], capture_output=True,
                            text=True, check=True)
    for command in ("network", "sim"):
        assert command in result.stdout
    for command in ("network", "sim"):
        help_text = subprocess.run([sys.executable, "-m", "snngen", command, "--help"],
                                   capture_output=True, text=True, check=True).stdout
        for flag in ("--out", "--json"):
            assert flag in help_text
    bad = subprocess.run([sys.executable, "-m", "snngen", "network", "--bits", "99", "--out",
                          str(tmp_path / "n.json")], capture_output=True, text=True,
                         check=False)
    assert bad.returncode == 2
    assert bad.stderr == "snngen network: error: --bits must be in 2..32, not 99\n"
    assert not (tmp_path / "n.json").exists()


def test_no_command_prints_help(capsys):
    status, out, _ = run(capsys)
    assert status == 2 and "network" in out
