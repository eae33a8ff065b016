"""A corpus of bad inputs: each one is rejected with one clear line, exit 2, and no output file."""

import json
import os

import numpy as np
import pytest

from snngen.cli import main
from snngen.model.generate import random_network
from snngen.model.network import network_to_json

# (flags, expected fragment of the one-line error)
BAD_FLAGS = [
    (["--bits", "40"], "--bits must be in 2..32, not 40"),
    (["--bits", "x"], "argument --bits: must be an integer, not 'x'"),
    (["--bits", "1"], "--bits must be in 2..32, not 1"),
    (["--threshold", "500"], "--threshold must be in 1..127 for 8-bit signed state, not 500"),
    (["--threshold", "0"], "--threshold must be in 1..127 for 8-bit signed state, not 0"),
    (["--bits", "4", "--representation", "unsigned", "--threshold", "16"],
     "--threshold must be in 1..15 for 4-bit unsigned state, not 16"),
    (["--leak-shift", "8"], "--leak-shift must be in 1..7 for 8-bit state"),
    (["--leak-shift", "0"], "--leak-shift must be in 1..7 for 8-bit state"),
    (["--leak-shift", "fast"], "argument --leak-shift: must be an integer or 'none', not 'fast'"),
    (["--density", "1.5"], "--density must be in 0..1, not 1.5"),
    (["--density", "nan"], "argument --density: must be a finite number, not 'nan'"),
    (["--neurons", "0"], "--neurons must be in 1..16384 for a generated network, not 0"),
    (["--inputs", "-1"], "--inputs must be in 0..16384 for a generated network, not -1"),
    (["--reset", "sideways"], "argument --reset: invalid choice: 'sideways'"),
    (["--overflow", "clip"], "argument --overflow: invalid choice: 'clip'"),
    (["--representation", "twos"], "argument --representation: invalid choice: 'twos'"),
    (["--weight-bits", "0"], "--weight-bits must be in 1..32, not 0"),
    (["--reset-value", "200"], "--reset-value must be in -128..127 for 8-bit signed state, not 200"),
    (["--seed", "-1"], "argument --seed: must be in 0..4294967295, not -1"),
    (["--frobnicate"], "unrecognized arguments: --frobnicate"),
]


@pytest.mark.parametrize(("flags", "message"), BAD_FLAGS, ids=[" ".join(f) for f, _ in BAD_FLAGS])
def test_bad_network_flags(tmp_path, capsys, flags, message):
    out = tmp_path / "net.json"
    status = _call(["network", *flags, "--out", str(out)])
    _assert_rejected(capsys, tmp_path, status, message, before=set())


def test_missing_out_flag(tmp_path, capsys):
    status = _call(["network"])
    _assert_rejected(capsys, tmp_path, status, "the following arguments are required: --out",
                     before=set())


def test_out_in_missing_directory(tmp_path, capsys):
    status = _call(["network", "--out", str(tmp_path / "nope" / "net.json")])
    _assert_rejected(capsys, tmp_path, status, "--out must be in an existing directory",
                     before=set())


def _valid_doc():
    return json.loads(network_to_json(random_network(neurons=3, inputs=2, bits=8, seed=1)))


def _with(**changes):
    doc = _valid_doc()
    doc.update(changes)
    return json.dumps(doc)


def _without(field):
    doc = _valid_doc()
    del doc[field]
    return json.dumps(doc)


def _row_changed(field, row, value):
    doc = _valid_doc()
    doc[field][row] = value
    return json.dumps(doc)


def _element(field, row, col, value):
    doc = _valid_doc()
    doc[field][row][col] = value
    return json.dumps(doc)


# (network.json text, expected fragment)
BAD_NETWORKS = [
    ("", "not valid JSON: Expecting value at line 1 column 1"),
    ("{\"format\": \"snngen-network\", ", "not valid JSON"),
    ("[1, 2, 3]", "a network must be a JSON object, not list"),
    (_with(format="nir"), "format must be 'snngen-network', not 'nir'"),
    (_with(version=7), "version must be 1, 2, 3 or 4, not 7"),
    (_with(version=True), "version must be 1, 2, 3 or 4, not True"),
    (_without("threshold"), "field 'threshold' is missing"),
    (_without("weights"), "field 'weights' is missing"),
    (_with(neurons=4), "weights must be a 4×4 matrix of integers (neurons × neurons), not 3 rows"),
    (_with(neurons=-2), "neurons must be in 1..16777216, not -2"),
    (_with(neurons="3"), "neurons must be an integer, not '3'"),
    (_with(inputs=3), "input_weights must be a 3×3 matrix of integers (neurons × inputs), but "
                      "input_weights[0] has 2 entries"),
    (_row_changed("weights", 1, [0, 1]), "weights must be a 3×3 matrix of integers "
                                         "(neurons × neurons), but weights[1] has 2 entries"),
    (_with(weights="abc"), "weights must be a 3×3 matrix of integers (neurons × neurons), not str"),
    (_element("weights", 2, 1, 300), "weights[2][1] must be in -128..127 for 8-bit weights, not 300"),
    (_element("weights", 0, 1, 1.5), "weights[0][1] must be an integer, not 1.5"),
    (_element("weights", 0, 1, True), "weights[0][1] must be an integer, not True"),
    (_element("weights", 0, 1, 10**30), "weights[0][1] must be in -128..127 for 8-bit weights"),
    (_element("input_weights", 2, 0, -129), "input_weights[2][0] must be in -128..127 for 8-bit "
                                            "weights, not -129"),
    (_row_changed("bias", 1, "7"), "bias[1] must be an integer, not '7'"),
    (_with(bias=[1, 2]), "bias must be a length 3 list of integers (one per neuron), not 2 entries"),
    (_with(initial_state=[0, 0, 128]), "initial_state[2] must be in -128..127 for 8-bit signed "
                                       "state, not 128"),
    (_with(threshold=3.0), "threshold must be an integer, not 3.0"),
    (_with(threshold=128), "threshold must be in 1..127 for 8-bit signed state, not 128"),
    (_with(leak_shift=8), "leak_shift must be in 1..7 for 8-bit state"),
    (_with(reset="half"), "reset must be one of zero|subtract|none, not 'half'"),
    (_with(representation=1), "representation must be one of signed|unsigned, not 1"),
    (_with(overflow="clamp"), "overflow must be one of saturate|wrap, not 'clamp'"),
    (_with(state_bits=33), "state_bits must be in 2..32, not 33"),
    (_with(weight_bits=0), "weight_bits must be in 1..32, not 0"),
    (_with(reset_value=-129), "reset_value must be in -128..127 for 8-bit signed state, not -129"),
    (_with(representation="unsigned", initial_state=[0, -1, 0]),
     "initial_state[1] must be in 0..255 for 8-bit unsigned state, not -1"),
    ('{"format": "snngen-network", "format": "snngen-network"}', "field 'format' appears twice"),
    (_with(weights=[[0, 1, 2], [3, 0, 4], [5, 6, 0]]).replace("[5, 6, 0]", "[5, NaN, 0]"),
     "NaN is not a valid JSON number"),
]


@pytest.mark.parametrize(("text", "message"), BAD_NETWORKS, ids=[m[:40] for _, m in BAD_NETWORKS])
def test_bad_network_files(tmp_path, capsys, text, message):
    path = tmp_path / "net.json"
    path.write_text(text)
    status = _call(["sim", str(path), "--steps", "5", "--out", str(tmp_path / "trace.npz")])
    _assert_rejected(capsys, tmp_path, status, f"{path}: {message}", before={"net.json"})


def test_network_file_errors(tmp_path, capsys):
    status = _call(["sim", str(tmp_path / "absent.json"), "--steps", "5",
                    "--out", str(tmp_path / "t.npz")])
    _assert_rejected(capsys, tmp_path, status, "absent.json: no such file", before=set())
    (tmp_path / "folder").mkdir()
    status = _call(["sim", str(tmp_path / "folder"), "--steps", "5",
                    "--out", str(tmp_path / "t.npz")])
    _assert_rejected(capsys, tmp_path, status, "is a directory", before={"folder"})
    (tmp_path / "latin1.json").write_bytes(b"\xff\xfe{}")
    status = _call(["sim", str(tmp_path / "latin1.json"), "--steps", "5",
                    "--out", str(tmp_path / "t.npz")])
    _assert_rejected(capsys, tmp_path, status, "not a UTF-8 text file",
                     before={"folder", "latin1.json"})


def _stimulus_cases():
    def npz(**arrays):
        def write(path):
            np.savez(path, **arrays)
        return write

    def raw(data):
        def write(path):
            path.write_bytes(data)
        return write

    ok = np.zeros((5, 2), np.uint8)
    return [
        (raw(b"hello"), "must be an .npz archive (numpy.savez) holding 'inputs'"),
        (raw(b"PK\x03\x04garbage"), "not a readable .npz file"),
        (npz(spikes=ok), "stim.npz: must hold an array named 'inputs', not only ['spikes']"),
        (npz(inputs=np.zeros((5, 3), np.uint8)), "inputs must have shape (steps, 2) for a network "
                                                  "with 2 inputs, not (5, 3)"),
        (npz(inputs=np.zeros(10, np.uint8)), "inputs must have shape (steps, 2)"),
        (npz(inputs=np.full((5, 2), 2, np.uint8)), "inputs[0][0] must be 0 or 1, not 2"),
        (npz(inputs=np.zeros((5, 2), np.float32)), "inputs must hold 0/1 integers, not float32"),
        (npz(inputs=np.zeros((3, 2), np.uint8)), "inputs has 3 rows (steps), fewer than the 5"),
        (npz(inputs=np.array([[None, 1]] * 5, dtype=object)), "'inputs' cannot be read"),
    ]


@pytest.mark.parametrize(("writer", "message"), _stimulus_cases(),
                         ids=[m[:40] for _, m in _stimulus_cases()])
def test_bad_stimulus_files(tmp_path, capsys, writer, message):
    (tmp_path / "net.json").write_text(_with())
    writer(tmp_path / "stim.npz")
    status = _call(["sim", str(tmp_path / "net.json"), "--steps", "5", "--input",
                    str(tmp_path / "stim.npz"), "--out", str(tmp_path / "trace.npz")])
    _assert_rejected(capsys, tmp_path, status, message, before={"net.json", "stim.npz"})


@pytest.mark.parametrize(("steps", "message"), [
    ("0", "--steps must be in 1..1000000000000, not 0"),
    ("ten", "argument --steps: must be an integer, not 'ten'"),
])
def test_bad_steps(tmp_path, capsys, steps, message):
    (tmp_path / "net.json").write_text(_with())
    status = _call(["sim", str(tmp_path / "net.json"), "--steps", steps,
                    "--out", str(tmp_path / "trace.npz")])
    _assert_rejected(capsys, tmp_path, status, message, before={"net.json"})


def test_existing_output_survives_a_failed_run(tmp_path, capsys):
    """A failed run must not truncate or replace the trace a user already has."""
    (tmp_path / "net.json").write_text(_with())
    (tmp_path / "trace.npz").write_bytes(b"precious")
    status = _call(["sim", str(tmp_path / "net.json"), "--steps", "0",
                    "--out", str(tmp_path / "trace.npz")])
    assert status == 2
    assert (tmp_path / "trace.npz").read_bytes() == b"precious"
    capsys.readouterr()


def _call(argv):
    return main(argv)


def _assert_rejected(capsys, folder, status, message, before):
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1, err
    assert err.startswith("snngen"), err
    assert "Traceback" not in err
    assert message in err, err
    assert set(os.listdir(folder)) == before


def _huge_npz(path):
    """An .npz whose 'inputs' header claims 10^12 elements: only the header is written."""
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "|u1", "fortran_order": False, "shape": (10**6, 10**6)})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("inputs.npy", header.getvalue())


def _hostile_cases():
    """(files to write, argv with {d} for the folder, expected fragment): found by trying
    what a new user (or a fuzzer) would; each once ended in a traceback or a 95 GiB allocation."""
    big_network = ["--neurons", "128", "--inputs", "8"]
    return [
        ({}, ["sim", "/dev/zero", "--steps", "5", "--out", "{d}/t.npz"],
         "/dev/zero: not a regular file"),
        ({"deep.json": "[" * 100_000 + "]" * 100_000},
         ["sim", "{d}/deep.json", "--steps", "5", "--out", "{d}/t.npz"], "nested too deeply"),
        ({"digits.json": '{"version": 1, "neurons": ' + "9" * 5000 + "}"},
         ["sim", "{d}/digits.json", "--steps", "5", "--out", "{d}/t.npz"],
         "holds an integer of more than"),
        ({"net.json": None}, ["sim", "{d}/net.json", "--steps", "100000000", "--out",
                              "{d}/t.npz"], "--steps 100000000 needs about"),
        ({"net.json": None}, ["sim", "{d}/net.json", "--steps", "1000000000", "--out",
                              "{d}/t.npz"], "GiB for the traces of 128 neurons"),
        ({"net.json": None}, ["verify", "{d}/net.json", "--steps", "100000000"],
         "--steps 100000000 needs about"),
        ({"net.json": None, "huge.npz": _huge_npz},
         ["sim", "{d}/net.json", "--steps", "5", "--input", "{d}/huge.npz", "--out", "{d}/t.npz"],
         "'inputs' of shape (1000000, 1000000) would take 931.3 GiB"),
        ({"net.json": None}, ["sim", "{d}/net.json", "--steps", "5", "--out", "/proc/t.npz"],
         "--out must be in a writable directory, not '/proc/t.npz'"),
        ({"net.json": None}, ["run", "{d}/net.json", "--port", "sim", "--steps", "3", "--out",
                              "{d}/t.npz", "--timeout", "-1"],
         "--timeout must be in (0, 3600] seconds, not -1"),
        ({"net.json": None}, ["run", "{d}/net.json", "--port", "sim", "--steps", "3", "--out",
                              "{d}/t.npz", "--retries", "-2"], "--retries must be in 0..100"),
        ({}, ["build", *big_network, "--name", "../../evil", "--out", "{d}/b"],
         "--name must be a Verilog identifier"),
        ({}, ["explore", "--density", "0.000001:1:0.0000000001", "--out", "{d}/x"],
         "gives 9,999,990,001 values, more than 100,000"),
        ({}, ["explore", "--neurons", "1:4096", "--density", "0.01:1:0.01", "--bits", "2:32",
              "--seeds", "100", "--out", "{d}/x"],
         "the grid has 1,269,760,000 points"),
    ]


@pytest.mark.parametrize(("files", "argv", "message"), _hostile_cases(),
                         ids=[m[:40] for _, _, m in _hostile_cases()])
def test_hostile_inputs(tmp_path, capsys, files, argv, message):
    for name, content in files.items():
        if content is None:
            (tmp_path / name).write_text(network_to_json(random_network(neurons=128, inputs=8,
                                                                       seed=1)))
        elif callable(content):
            content(tmp_path / name)
        else:
            (tmp_path / name).write_text(content)
    status = _call([part.replace("{d}", str(tmp_path)) for part in argv])
    _assert_rejected(capsys, tmp_path, status, message, before=set(files))


def test_demo_checks_its_tools_before_training(tmp_path, capsys, monkeypatch):
    """Without Icarus on PATH the demo stops at once, not after a minute of training."""
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    status = _call(["demo", "digits", "--out", str(tmp_path / "demo"), "--no-synth", "--quiet"])
    _assert_rejected(capsys, tmp_path, status, "iverilog not found", before={"bin"})


def test_a_network_too_large_to_generate_is_refused_first(tmp_path, capsys, monkeypatch):
    import snngen.cli.common as common

    monkeypatch.setattr(common, "available_memory", lambda: 1 << 30)
    status = _call(["network", "--neurons", "8192", "--out", str(tmp_path / "net.json")])
    _assert_rejected(capsys, tmp_path, status,
                     "--neurons 8192 needs about 2.2 GiB to generate, more than the 1.0 GiB",
                     before=set())
