"""snngen build: determinism, the Verilog passes Icarus and Verilator, the manifest is right."""

import hashlib
import json
import os
import re
import subprocess

import numpy as np
import pytest
from rtl_cases import random_case

from snngen.cli import main
from snngen.errors import InputError
from snngen.hw.emit import build_design, generate
from snngen.model.generate import random_network
from snngen.synth.tools import find_iverilog, find_verilator

CASES = [
    ("8b-signed-saturate-G1", random_network(neurons=24, bits=8, seed=1), 1),
    ("4b-unsigned-wrap-G3", random_network(neurons=10, bits=4, representation="unsigned",
                                           overflow="wrap", reset="zero", seed=2), 3),
    ("16b-none-GN", random_case(3, 16, "signed", "saturate", "none", neurons=5), 5),
    ("no-inputs-1-neuron", random_case(4, 6, "signed", "wrap", "zero", neurons=1, inputs=0), 1),
]


def _tool_env():
    try:
        folder = find_verilator()
    except InputError as error:
        pytest.skip(str(error))
    return {**os.environ, "PATH": folder + os.pathsep + os.environ["PATH"]}


@pytest.mark.parametrize(("label", "network", "groups"), CASES, ids=[c[0] for c in CASES])
def test_verilog_passes_icarus_and_verilator(tmp_path, label, network, groups):
    design = build_design(network, str(tmp_path), groups=groups, name=label.replace("-", "_"))
    verilog = tmp_path / f"{design.top}.v"
    try:
        iverilog = find_iverilog()
    except InputError as error:
        pytest.skip(str(error))
    icarus = subprocess.run([iverilog, "-g2012", "-o", str(tmp_path / "a.out"), str(verilog)],
                            capture_output=True, text=True, check=False)
    assert icarus.returncode == 0, icarus.stderr
    assert "error" not in icarus.stderr.lower()
    lint = subprocess.run(["verilator", "--lint-only", "--top-module", design.top, str(verilog)],
                          capture_output=True, text=True, env=_tool_env(), check=False)
    assert lint.returncode == 0, lint.stderr
    assert "%Error" not in lint.stderr and "%Warning" not in lint.stderr


def test_same_command_gives_byte_identical_files(tmp_path):
    for name in ("a", "b"):
        assert main(["build", "--neurons", "20", "--bits", "6", "--groups", "2",
                     "--name", "same", "--out", str(tmp_path / name)]) == 0
    for file in sorted(os.listdir(tmp_path / "a")):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file
    assert sorted(os.listdir(tmp_path / "a")) == ["README.md", "manifest.json", "network.json",
                                                   "snn_same.v"]


def test_manifest_describes_the_verilog(tmp_path):
    network = random_network(neurons=12, inputs=5, bits=8, seed=7)
    design = build_design(network, str(tmp_path), groups=3, name="m")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    verilog = (tmp_path / "snn_m.v").read_text()
    assert manifest["top"] == "snn_m"
    assert manifest["verilog"]["sha256"] == hashlib.sha256(verilog.encode()).hexdigest()
    network_text = (tmp_path / "network.json").read_text()
    assert manifest["network"]["sha256"] == hashlib.sha256(network_text.encode()).hexdigest()
    header = verilog[verilog.index("module snn_m("):]
    header = header[:header.index(";\n")]
    declared = {}
    for direction, width, name in re.findall(
            r"^\s*(input|output)\s+(?:\[(\d+):0\]\s+)?(\w+);", verilog.split("endmodule")[0],
            flags=re.M):
        declared[name] = (direction, int(width) + 1 if width else 1)
    assert {p["name"] for p in manifest["ports"]} == set(declared)
    for port in manifest["ports"]:
        assert declared[port["name"]] == (port["direction"], port["width"]), port["name"]
        assert port["name"] in header
        assert port["role"]
    spikes = next(p for p in manifest["ports"] if p["name"] == "spikes__payload")
    assert [f["name"] for f in spikes["fields"]] == ["neuron", "end"]
    parameters = manifest["parameters"]
    assert parameters["groups"] == 3 and parameters["neurons"] == 12
    assert parameters["synapses"] == network.synapses
    assert sum(parameters["synapses_per_group"]) == network.synapses
    assert design.files["network.json"] == network_text


def test_build_from_network_file_uses_its_name(tmp_path, capsys):
    from snngen.model.network import save_network
    save_network(random_network(neurons=6, seed=2), tmp_path / "tiny.json")
    os.chdir(tmp_path)
    assert main(["build", "tiny.json", "--groups", "2"]) == 0
    assert (tmp_path / "rtl_out" / "tiny" / "snn_tiny.v").exists()
    assert "snn_tiny" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["--neurons", "4", "--groups", "5"], "--groups must be in 1..4 for 4 neurons, not 5"),
    (["--neurons", "4", "--groups", "0"], "--groups must be in 1..4 for 4 neurons, not 0"),
    (["--bits", "99"], "--bits must be in 2..32, not 99"),
])
def test_build_rejects_bad_flags(tmp_path, capsys, argv, message):
    out = tmp_path / "design"
    assert main(["build", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_build_refuses_a_file_as_output_folder(tmp_path, capsys):
    (tmp_path / "file").write_text("keep me")
    assert main(["build", "--neurons", "4", "--out", str(tmp_path / "file")]) == 2
    assert "--out must be a directory" in capsys.readouterr().err
    assert (tmp_path / "file").read_text() == "keep me"


def test_generate_does_not_depend_on_the_working_directory(tmp_path):
    network = random_network(neurons=9, seed=5)
    first = generate(network, 2, "cwd").verilog
    os.chdir(tmp_path)
    assert generate(network, 2, "cwd").verilog == first
    assert str(tmp_path) not in first and "/work/" not in first
    assert np.all(network.weights == network.weights)
