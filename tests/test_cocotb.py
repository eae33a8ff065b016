"""The generated Verilog under cocotb, in Icarus and Verilator, bit-exact with the golden model.

One build folder per parameter set (under tmp_path); the testbenches read the build's
manifest.json and network.json. Icarus builds in about a second, Verilator in about 15 s, so the
Verilator matrix is smaller; `-m slow` runs the full matrix on both.
"""

import json

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from rtl_cases import full_load_network, random_case, stimulus

from snngen.cli import main
from snngen.errors import InputError
from snngen.model.golden import simulate
from snngen.model.network import StateFormat, save_network
from snngen.synth.tools import find_iverilog, find_verilator
from snngen.verify.cosim import run_cocotb

SIMULATORS = ["icarus", "verilator"]


def require(simulator):
    try:
        (find_iverilog if simulator == "icarus" else find_verilator)()
    except InputError as error:
        pytest.skip(str(error))


def ref_run(network, steps, inputs):
    return simulate(network, steps, inputs)


def rtl_run(network, steps, inputs, simulator, build_dir, **options):
    result = run_cocotb(network, steps, inputs, simulator=simulator, build_dir=build_dir,
                        **options)
    assert result.failed == 0, result.mismatches
    return result


def assert_bit_exact(network, steps, inputs, simulator, build_dir, **options):
    expected = ref_run(network, steps, inputs)
    result = rtl_run(network, steps, inputs, simulator, build_dir, **options)
    got = result.run
    assert_array_equal(got.spikes, expected.spikes)
    assert_array_equal(got.state, expected.state)
    for ids in got.events:
        assert len(ids) == len(set(ids))
    assert got.end_counts == [len(ids) for ids in got.events]
    return expected, got


# (bits, representation, overflow, reset, groups, neurons): every option value appears.
CASES = [
    (4, "unsigned", "wrap", "none", 1, 9),
    (8, "signed", "saturate", "subtract", 3, 12),
    (16, "signed", "wrap", "zero", "N", 6),
    (4, "signed", "saturate", "zero", 2, 10),
    (8, "unsigned", "saturate", "none", 4, 13),
    (16, "unsigned", "wrap", "subtract", 2, 8),
    # More groups than one merger takes: a first level of mergers.
    (8, "signed", "saturate", "subtract", 10, 20),
]
FAST = {"icarus": CASES, "verilator": CASES[:3] + CASES[6:]}


def _cases(simulator, slow):
    chosen = CASES if slow else FAST[simulator]
    return [pytest.param(simulator, *case, id=f"{simulator}-{case[0]}b-{case[1]}-{case[2]}-"
                         f"{case[3]}-G{case[4]}") for case in chosen]


@pytest.mark.parametrize(
    ("simulator", "bits", "representation", "overflow", "reset", "groups", "neurons"),
    _cases("icarus", False) + _cases("verilator", False))
def test_harness_matrix(tmp_path, simulator, bits, representation, overflow, reset, groups,
                        neurons):
    require(simulator)
    network = random_case(bits * 7 + neurons, bits, representation, overflow, reset,
                          neurons=neurons)
    g = network.neurons if groups == "N" else groups
    inputs = stimulus(bits + neurons, 25, network.inputs, rate=0.4)
    expected, _ = assert_bit_exact(network, 25, inputs, simulator, tmp_path, groups=g)
    assert expected.spikes.any()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("simulator", "bits", "representation", "overflow", "reset", "groups", "neurons"),
    [c for c in _cases("verilator", True) if c.values[0:7] not in
     [p.values for p in _cases("verilator", False)]])
def test_harness_matrix_full(tmp_path, simulator, bits, representation, overflow, reset, groups,
                             neurons):
    test_harness_matrix(tmp_path, simulator, bits, representation, overflow, reset, groups,
                        neurons)


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_full_load_with_backpressure(tmp_path, simulator):
    """Every neuron fires every step while the harness stalls both host streams at random."""
    require(simulator)
    network = full_load_network(neurons=16, density=0.7)
    inputs = np.ones((12, network.inputs), dtype=np.uint8)
    expected, got = assert_bit_exact(network, 12, inputs, simulator, tmp_path, groups=3,
                                     stall_seed=11)
    assert expected.spikes.all()
    assert all(len(ids) == network.neurons for ids in got.events)


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_python_driven_backpressure_and_reset(tmp_path, simulator):
    """SnnTB: random stalls on both streams, and a reset in the middle of a step then a rerun."""
    require(simulator)
    network = random_case(5, 8, "signed", "saturate", "subtract", neurons=10, density=0.6)
    inputs = stimulus(5, 8, network.inputs, rate=0.5)
    result = rtl_run(network, 8, inputs, simulator, tmp_path, groups=2, mode="python",
                     stall_seed=3)
    assert result.tests == 4 and result.failed == 0  # the harness test is skipped in this mode
    scoreboards = sorted(p.name for p in tmp_path.glob("scoreboard*.json"))
    assert scoreboards == ["scoreboard_reset.json", "scoreboard_stall0.0.json",
                           "scoreboard_stall0.4.json"]


def test_a_broken_design_is_caught(tmp_path):
    """The flow must be able to fail: simulate a design built for different weights."""
    require("icarus")
    network = random_case(8, 8, "signed", "saturate", "subtract", neurons=8, density=0.8)
    inputs = stimulus(8, 10, network.inputs, rate=0.5)
    other = network.replace(weights=np.roll(network.weights, 1, axis=0))
    result = run_cocotb(other, 10, inputs, simulator="icarus", build_dir=tmp_path, groups=2)
    expected = ref_run(network, 10, inputs)
    assert not (np.array_equal(result.run.state, expected.state)
                and np.array_equal(result.run.spikes, expected.spikes))


def test_gate_level_ice40_netlist(tmp_path):
    """synth_ice40 netlist (LUTs, carries, FFs, SB_RAM40_4K) under Icarus: still bit-exact."""
    require("icarus")
    from snngen.verify.gatelevel import run_gate_level
    network = random_case(13, 8, "signed", "saturate", "subtract", neurons=48, inputs=4,
                          density=0.3)
    inputs = stimulus(13, 12, network.inputs, rate=0.3)
    expected = ref_run(network, 12, inputs)
    result, cells = run_gate_level(network, 12, inputs, groups=2, build_dir=tmp_path)
    assert cells.get("SB_RAM40_4K", 0) > 0 and cells.get("SB_LUT4", 0) > 0
    assert result.failed == 0
    assert_array_equal(result.run.spikes, expected.spikes)
    assert_array_equal(result.run.state, expected.state)


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_verify_command(tmp_path, capsys, simulator):
    require(simulator)
    path = tmp_path / "net.json"
    network = random_case(2, 6, "signed", "wrap", "zero", neurons=9)
    save_network(network, path)
    status = main(["verify", str(path), "--steps", "15", "--sim", simulator, "--groups", "2",
                   "--build-dir", str(tmp_path / "build"), "--out", str(tmp_path / "rtl.npz"),
                   "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert status == 0 and summary["bit_exact"]
    with np.load(tmp_path / "rtl.npz") as trace:
        assert_array_equal(trace["state"], simulate(network, 15).state)


def test_verify_command_reports_a_mismatch(tmp_path, capsys, monkeypatch):
    require("icarus")
    import snngen.cli.hardware
    from snngen.model.golden import Trace
    real = snngen.cli.hardware.simulate

    def corrupted(network, steps, inputs=None, **options):
        trace = real(network, steps, inputs, **options)
        spikes = trace.spikes.copy()
        spikes[2, 3] ^= 1
        return Trace(spikes=spikes, state=trace.state)

    monkeypatch.setattr(snngen.cli.hardware, "simulate", corrupted)
    path = tmp_path / "net.json"
    save_network(random_case(2, 6, "signed", "wrap", "zero", neurons=9), path)
    status = main(["verify", str(path), "--steps", "5", "--sim", "icarus",
                   "--build-dir", str(tmp_path / "build")])
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("snngen verify: error: mismatch at step 3, neuron 3: spike expected ")


def test_waves(tmp_path, capsys):
    require("icarus")
    path = tmp_path / "net.json"
    save_network(random_case(3, 4, "unsigned", "saturate", "none", neurons=5), path)
    assert main(["verify", str(path), "--steps", "3", "--sim", "icarus", "--waves",
                 "--build-dir", str(tmp_path / "build")]) == 0
    out = capsys.readouterr().out
    waves = out.split("waveform: ")[1].strip()
    assert waves.endswith(".fst") and (tmp_path / "build").exists()
    with open(waves, "rb") as file:
        assert len(file.read()) > 100


# ---- semantics v2 -------------------------------------------------------------------------


def _v2_case(preset):
    """A Loihi-preset network (24-bit current and membrane, multiplicative decays) or a
    Xylo-preset one (per-event saturation in order, up to 31 spikes a step)."""
    from snngen.model.compat import random_compat_network

    return random_compat_network(preset, neurons=10, inputs=3, density=0.5, seed=7)


@pytest.mark.parametrize("simulator", SIMULATORS)
# The Python-driven testbench repeats the harness's check with stalls and a reset: in the full
# suite only under Verilator, whose builds are the slow ones.
@pytest.mark.parametrize("mode", ["harness", "python"])
@pytest.mark.parametrize("preset", ["loihi", "xylo"])
def test_v2_presets(tmp_path, simulator, mode, preset):
    """Spikes (counts), membranes and synaptic currents read through the host port, every
    step."""
    require(simulator)
    network = _v2_case(preset)
    inputs = stimulus(7, 12, network.inputs, rate=0.5)
    if preset == "xylo":
        inputs = inputs * np.random.default_rng(7).integers(1, 4, size=inputs.shape)
    expected = ref_run(network, 12, inputs)
    assert expected.spikes.any()
    result = rtl_run(network, 12, inputs, simulator, tmp_path, groups=3, mode=mode,
                     stall_seed=5)
    if mode == "harness":
        assert_array_equal(result.run.spikes, expected.spikes)
        assert_array_equal(result.run.state, expected.state)
        assert_array_equal(result.run.current, expected.current)
    else:
        assert result.tests >= 3 and result.failed == 0


def assert_gate_level_bit_exact(network, steps, inputs, expected, build_dir):
    """The iCE40 netlist on 2 groups, in Icarus: spikes, membranes and currents as expected."""
    from snngen.verify.gatelevel import run_gate_level

    result, cells = run_gate_level(network, steps, inputs, groups=2, build_dir=build_dir)
    assert cells.get("SB_LUT4", 0) > 0
    assert result.failed == 0
    assert_array_equal(result.run.spikes, expected.spikes)
    assert_array_equal(result.run.state, expected.state)
    assert_array_equal(result.run.current, expected.current)


@pytest.mark.full
def test_v2_gate_level_ice40_netlist(tmp_path):
    """The v2 update unit after synth_ice40 (multipliers, shifters, rails): still bit-exact."""
    require("icarus")
    from snngen.model.network import Current, Dynamics

    base = random_case(21, 12, "signed", "saturate", "subtract", neurons=16, inputs=3,
                       density=0.4)
    rng = np.random.default_rng(21)
    network = base.replace(neuron=base.neuron.__class__(
        threshold=base.neuron.threshold, leak_shift=None, reset="subtract"),
        dynamics=Dynamics(
            current=Current(StateFormat(14, "signed", "wrap", "symmetric"), "multiply",
                            rng.integers(0, 4097, size=16), "add_then_decay", 0),
            membrane_decay="shift_min1", membrane_decay_parameter=rng.integers(0, 12, size=16),
            compare=">", refractory=rng.integers(0, 3, size=16), weight_shift=1))
    inputs = stimulus(21, 12, network.inputs, rate=0.4)
    expected = ref_run(network, 12, inputs)
    assert expected.spikes.any()
    assert_gate_level_bit_exact(network, 12, inputs, expected, tmp_path)


@pytest.mark.full
def test_xylo_gate_level_ice40_netlist(tmp_path):
    """The Xylo preset after synth_ice40: ordered accumulators, the sorted merger, the spike
    count's division and the host's copies, as cells."""
    require("icarus")
    from snngen.model.compat import random_compat_network

    network = random_compat_network("xylo", neurons=8, inputs=3, density=0.7, seed=11)
    inputs = stimulus(11, 8, network.inputs, rate=0.6)
    expected = ref_run(network, 8, inputs)
    assert expected.spikes.max() > 1
    assert_gate_level_bit_exact(network, 8, inputs, expected, tmp_path)


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_dense_banked_tables(tmp_path, simulator):
    """A dense layer behind 4-entry banks (three multiplexer levels) in Verilog, with stalls."""
    require(simulator)
    from snngen.hw.plan import plan_hardware

    network = random_case(41, 8, "signed", "saturate", "subtract", neurons=12, inputs=6,
                          density=1.0)
    plan = plan_hardware(network, 2, bank_depth=4)
    assert all(g.dense for g in plan.group_plans) and plan.synapse_banks(0) > 16
    inputs = stimulus(41, 10, network.inputs, rate=0.5)
    assert_bit_exact(network, 10, inputs, simulator, tmp_path, groups=2, bank_depth=4,
                     stall_seed=5)


@pytest.mark.parametrize("runtime_weights", [False, True], ids=["rom", "runtime"])
@pytest.mark.parametrize("simulator", SIMULATORS)
def test_dp16kd_banked_tables(tmp_path, simulator, runtime_weights):
    """Banked tables as ECP5 DP16KD instances with their output register (how synthesis for an
    ECP5 builds them), in Verilog with snngen's DP16KD model: ROM contents from INITVAL, or
    loaded through the write port; with stalls."""
    require(simulator)
    from snngen.hw.plan import plan_hardware
    from snngen.hw.queue import SMALL_QUEUE_DEPTH
    from snngen.hw.router import MASK_LOGIC_BITS

    # More than SMALL_QUEUE_DEPTH inputs: the input queue is a DP16KD too; with 8 groups the
    # router's mask table (sources × groups bits) is one.
    network = random_case(47, 8, "signed", "saturate", "subtract", neurons=16,
                          inputs=SMALL_QUEUE_DEPTH + 4, density=0.9)
    groups = 8
    plan = plan_hardware(network, groups, bank_depth=256, block_ram="dp16kd",
                         runtime_weights=runtime_weights)
    assert min(plan.synapse_banks(g) for g in range(groups)) >= 2
    assert plan.sources * groups > MASK_LOGIC_BITS
    inputs = stimulus(47, 10, network.inputs, rate=0.5)
    expected, _ = assert_bit_exact(network, 10, inputs, simulator, tmp_path, groups=groups,
                                   bank_depth=256, block_ram="dp16kd",
                                   runtime_weights=runtime_weights, stall_seed=3)
    assert expected.spikes.any()
    verilog = (tmp_path / "snn_dut.v").read_text()
    # The banks, the input queue, each group's pointer table (more than 64 sources) and the
    # router's mask table.
    from snngen.hw.banked import dp16kd_rom_columns

    pointer_columns = dp16kd_rom_columns(plan.pointer_width, plan.sources)[1]
    mask_columns = dp16kd_rom_columns(groups, plan.sources)[1]
    assert verilog.count("DP16KD") == (sum(plan.synapse_banks(g) for g in range(groups)) + 1
                                       + groups * pointer_columns + mask_columns)


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_packed_spram_tables(tmp_path, simulator):
    """Entries packed four to a 16-bit word (iCE40 SPRAM), loaded at run time through the
    harness in banks, with stalls."""
    require(simulator)
    from snngen.hw.plan import plan_hardware

    network = random_case(48, 8, "signed", "saturate", "subtract", neurons=16, inputs=6,
                          density=1.0, weight_bits=4)
    plan = plan_hardware(network, 2, bank_depth=16, pack_bits=16, runtime_weights=True)
    assert all(group.dense for group in plan.group_plans)
    assert [plan.group_pack(g) for g in range(2)] == [4, 4]
    assert min(plan.synapse_banks(g) for g in range(2)) >= 2
    inputs = stimulus(48, 10, network.inputs, rate=0.5)
    expected, _ = assert_bit_exact(network, 10, inputs, simulator, tmp_path, groups=2,
                                   bank_depth=16, pack_bits=16, runtime_weights=True,
                                   stall_seed=4)
    assert expected.spikes.any()


#: family → (neurons, density, steps, bank depth, cells the netlist must hold). iCE40:
#: SB_RAM40_4K behind the registered multiplexer tree. ECP5: DP16KDs hand-instantiated with the
#: output register (banks, pointer ROMs), and inferred by yosys (accumulators, constants: a
#: network large enough that yosys prefers block RAM to LUT RAM for them).
GATE_LEVEL_BANKS = {
    "ice40": (40, 0.95, 8, 512, {"SB_RAM40_4K": 4}),
    "ecp5": (300, 0.05, 4, 512, {"DP16KD": 20, "LUT4": 1, "TRELLIS_DPR16X4": 1, "CCU2C": 1}),
}


@pytest.mark.full
@pytest.mark.parametrize("family", sorted(GATE_LEVEL_BANKS))
def test_gate_level_banked_tables(tmp_path, family):
    """Banked tables after yosys synthesis for each family: the netlist under Icarus with the
    cell models (for the ECP5, yosys's and snngen's DP16KD model) is still bit-exact."""
    require("icarus")
    from snngen.verify.gatelevel import run_gate_level

    neurons, density, steps, bank_depth, least = GATE_LEVEL_BANKS[family]
    network = random_case(43, 8, "signed", "saturate", "subtract", neurons=neurons, inputs=24,
                          density=density)
    inputs = stimulus(43, steps, network.inputs, rate=0.4)
    expected = ref_run(network, steps, inputs)
    assert expected.spikes.any()
    result, cells = run_gate_level(network, steps, inputs, groups=2, build_dir=tmp_path,
                                   bank_depth=bank_depth, family=family)
    assert result.failed == 0
    assert_array_equal(result.run.spikes, expected.spikes)
    assert_array_equal(result.run.state, expected.state)
    assert all(cells.get(cell, 0) >= count for cell, count in least.items()), cells
    if family == "ecp5":
        netlist = (tmp_path / "synth" / "netlist.v").read_text()
        # Hand-instantiated DP16KDs (banks, pointer ROMs) and yosys-inferred ones.
        for mode in ('REGMODE_A("OUTREG")', 'REGMODE_A("NOREG")', "pointer_memory_column0"):
            assert mode in netlist, mode
