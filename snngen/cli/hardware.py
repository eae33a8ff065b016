"""``snngen build``, ``verify``, ``synth`` and ``sweep``: the generated hardware."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

from .._files import atomic_write_text
from ..errors import InputError
from ..model.golden import Trace, check_inputs, first_mismatch, simulate
from .common import (
    EXIT_TOOL,
    MAX_JOBS,
    MAX_SEED,
    MAX_VERIFY_STEPS,
    TARGET_NAMES,
    ProgressBar,
    add_block_ram_flag,
    add_groups_flag,
    add_network_flags,
    add_pack_bits_flag,
    add_runtime_weights_flag,
    add_spike_queue_depth_flag,
    check_output,
    check_steps,
    check_trace_memory,
    grid_values,
    groups_or_auto,
    integer,
    jobs_value,
    load_stimulus,
    network_argument,
    number,
    report_mismatch,
    save_trace,
    seed_value,
    target_list,
)


def _cmd_build(args: argparse.Namespace) -> int:
    from ..hw.emit import build_design

    network, name = network_argument(args)
    if args.name is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", args.name):
        raise InputError(f"--name must be a Verilog identifier of letters, digits and _ "
                         f"(at most 64, not starting with a digit), not {args.name!r}")
    name = args.name or name
    out = args.out or os.path.join("rtl_out", name)
    design = build_design(network, out, groups=args.groups, name=name,
                          runtime_weights=args.runtime_weights, block_ram=args.block_ram,
                          pack_bits=args.pack_bits, spike_queue_depth=args.spike_queue_depth)
    manifest = json.loads(design.manifest_json)
    if args.json:
        print(json.dumps({"out": out, "top": design.top, "files": sorted(design.files),
                          "parameters": manifest["parameters"]}, sort_keys=True))
    else:
        parameters = manifest["parameters"]
        print(f"wrote {out}/: {', '.join(sorted(design.files))}")
        print(f"  top module   {design.top}")
        print(f"  network      {network.describe()}")
        depths = parameters["group_depths"]
        sizes = (f"× {depths[0]}" if len(set(depths)) == 1
                 else f"of {', '.join(str(d) for d in depths)}")
        kernels = parameters["kernel_groups"]
        print(f"  groups       {parameters['groups']} {sizes} neurons"
              + (f" (kernel groups {', '.join(str(g) for g in kernels)})" if kernels else ""))
        print(f"  memory bits  {sum(parameters['memory_bits'].values())} "
              f"({', '.join(f'{k} {v}' for k, v in parameters['memory_bits'].items())})")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from ..hw.plan import plan_hardware
    from ..verify.amaranth import run_amaranth

    check_steps(args.steps, MAX_VERIFY_STEPS)
    # An option of the other simulator is refused, never silently ignored.
    amaranth_only = {"--vcd": args.vcd is not None, "--read-states": args.read_states is not None}
    cocotb_only = {"--waves": args.waves, "--build-dir": args.build_dir is not None,
                   "--block-ram dp16kd": args.block_ram != "inferred"}
    for flag, typed in (amaranth_only if args.sim != "amaranth" else cocotb_only).items():
        if typed:
            wanted = "amaranth" if flag in amaranth_only else "icarus or verilator"
            raise InputError(f"{flag} needs --sim {wanted}, not --sim {args.sim}")
    if args.out is not None:
        check_output(args.out)
    if args.vcd is not None:
        check_output(args.vcd, "--vcd")
    network, stem = network_argument(args)
    check_trace_memory(args.steps, network, copies=2)
    inputs = (load_stimulus(args.input, network.inputs, args.steps) if args.input is not None
              else check_inputs(network, args.steps, None))
    plan = plan_hardware(network, args.groups, runtime_weights=args.runtime_weights,
                         pack_bits=args.pack_bits, spike_queue_depth=args.spike_queue_depth)
    expected = simulate(network, args.steps, inputs)
    waves_path = None
    if args.sim == "amaranth":
        run = run_amaranth(plan, args.steps, inputs, stall_seed=args.stall_seed,
                           vcd_path=args.vcd, read_states=args.read_states or "peek")
    else:
        from ..verify.cosim import CosimError, run_cocotb, waveform_file

        build_dir = args.build_dir or os.path.join(
            "rtl_out", f"{stem}_verify_{args.sim}_g{plan.groups}")
        try:
            result = run_cocotb(network, args.steps, inputs, simulator=args.sim,
                                build_dir=build_dir, groups=plan.groups, waves=args.waves,
                                runtime_weights=args.runtime_weights,
                                block_ram=args.block_ram, pack_bits=args.pack_bits,
                                spike_queue_depth=args.spike_queue_depth,
                                stall_seed=args.stall_seed)
        except CosimError as error:
            print(f"snngen verify: error: {error}", file=sys.stderr)
            return EXIT_TOOL
        run = result.run
        if args.waves:
            waves_path = waveform_file(build_dir, args.sim)
    if args.out is not None:
        save_trace(Trace(spikes=run.spikes, state=run.state, current=run.current), args.out)
    mismatch = first_mismatch(expected, run.spikes, run.state, run.current)
    protocol = _protocol_errors(run, expected)
    if mismatch is None and protocol:
        mismatch = protocol
    cycles = int(run.cycles.sum())
    summary = {
        "sim": args.sim, "steps": args.steps, "neurons": network.neurons, "groups": plan.groups,
        "bit_exact": mismatch is None, "first_mismatch": mismatch,
        "cycles": cycles, "cycles_per_step": cycles / args.steps,
        "spikes": int(run.spikes.sum()),
        "waves": None if waves_path is None else str(waves_path),
    }
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    elif mismatch is None:
        compared = "spikes and states" if run.current is None \
            else "spikes, states and synaptic currents"
        print(f"bit-exact: {args.steps} steps × {network.neurons} neurons, {compared} "
              f"match the golden model ({args.sim}, {plan.groups} group(s), {cycles} cycles, "
              f"{cycles / args.steps:.1f} per step)")
        if waves_path is not None:
            print(f"waveform: {waves_path}")
    if mismatch is not None:
        return report_mismatch("verify", mismatch)
    return 0


def _protocol_errors(run, expected: Trace) -> dict | None:
    """Duplicated events or wrong end-of-step counts (the spike matrix alone would hide them)."""
    for t, ids in enumerate(run.events):
        seen = set()
        for neuron in ids:
            if neuron in seen or neuron >= expected.spikes.shape[1]:
                return {"step": t + 1, "neuron": int(neuron), "what": "event count",
                        "expected": 1, "got": ids.count(neuron)}
            seen.add(neuron)
        count = run.end_counts[t] if t < len(run.end_counts) else -1
        if count != len(ids):
            return {"step": t + 1, "neuron": -1, "what": "end-of-step spike count",
                    "expected": len(ids), "got": count}
    return None


def _cmd_synth(args: argparse.Namespace) -> int:
    from ..synth.flow import TARGETS, SynthesisError, report_table, synthesize, synthesize_auto

    if args.target not in TARGETS:
        raise InputError(f"--target must be one of {', '.join(TARGETS)}, not {args.target!r}")
    if args.report is not None:
        check_output(args.report, "--report")
    if args.step_budget is not None and args.groups != "auto":
        given = "no --groups" if args.groups is None else f"--groups {args.groups}"
        raise InputError(f"--step-budget needs --groups auto, not {given}")
    network, _name = network_argument(args)
    options = {"pnr": not args.no_pnr, "frequency_mhz": args.freq, "work_dir": args.work_dir,
               "seed": args.seed_pnr, "runtime_weights": args.runtime_weights,
               "speed": args.speed}
    try:
        if args.groups == "auto":
            report = synthesize_auto(network, args.target, step_budget_us=args.step_budget,
                                     progress=lambda line: print(f"snngen synth: {line}",
                                                                 file=sys.stderr), **options)
        else:
            report = synthesize(network, args.target, groups=args.groups, **options)
    except SynthesisError as error:
        print(f"snngen synth: error: {error}", file=sys.stderr)
        return EXIT_TOOL
    if args.report is not None:
        atomic_write_text(args.report, json.dumps(report, indent=2, sort_keys=True) + "\n")
    if args.json:
        print(json.dumps({k: v for k, v in report.items() if k != "raw"}, sort_keys=True))
    else:
        print(report_table(report))
        if report.get("timing_met") is False:
            print(f"timing: missed the {report['target_mhz']:g} MHz target "
                  f"({report['fmax_mhz']:.1f} MHz achieved); the report lists the critical path")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from ..synth.sweep import SWEEP_PLOTS, run_sweep

    for flag, values, lo, hi in (("--neurons", args.neurons, 1, 16384), ("--bits", args.bits, 2, 32),
                                 ("--groups", args.groups, 1, 1024)):
        for value in values:
            if not lo <= value <= hi:
                raise InputError(f"{flag} values must be in {lo}..{hi}, not {value}")
    for value in args.density:
        if not 0.0 <= value <= 1.0:
            raise InputError(f"--density values must be in 0..1, not {value}")
    skipped: dict[str, str] = {}
    with ProgressBar("sweep", "point", enabled=not args.quiet) as bar:
        rows = run_sweep(args.out, neurons=args.neurons, bits=args.bits, groups=args.groups,
                         density=args.density, targets=args.targets, seed=args.seed,
                         pnr=not args.no_pnr, jobs=args.jobs, progress=bar,
                         runtime_weights=args.runtime_weights, skipped_plots=skipped)
    failed = sum(r["status"] != "ok" for r in rows)
    plots = len(SWEEP_PLOTS) - len(skipped)
    print(f"wrote {args.out}/: results.csv, summary.md, {plots} plot{'s' * (plots != 1)}; "
          f"{len(rows)} points, {failed} did not fit or failed")
    for name, why in skipped.items():
        print(f"  not plotted: {name}: {why}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add this family's subcommands to the ``snngen`` parser."""
    build = commands.add_parser(
        "build", help="generate Verilog, network.json, manifest.json for a network",
        description="Generate a synthesizable, bit-exact design (one Verilog file) for a network "
                    "given as NET.json or by the network flags. The same command gives "
                    "byte-identical files.",
    )
    build.add_argument("network", nargs="?", metavar="NET.json",
                       help="the network; without it, a random network from the flags below")
    add_groups_flag(build)
    add_runtime_weights_flag(build)
    add_block_ram_flag(build)
    add_pack_bits_flag(build)
    add_spike_queue_depth_flag(build)
    build.add_argument("--out", metavar="DIR",
                       help="output folder (default: rtl_out/NAME/)")
    build.add_argument("--name", help="design name; the top module is snn_NAME "
                                      "(default: NET.json's file name, or one from the flags)")
    build.add_argument("--json", action="store_true", help="print a JSON summary")
    add_network_flags(build)
    build.set_defaults(handler=_cmd_build)
    verify = commands.add_parser(
        "verify", help="simulate the generated RTL and compare it with the golden model",
        description="Build the design, run it in a simulator, read every spike and every "
                    "neuron's state after every step, and compare them with the golden model. "
                    "Exit 0 when bit-exact, 1 with the first mismatch (step, neuron, expected, "
                    "got), 2 on bad input, 3 when a simulator fails.",
    )
    verify.add_argument("network", nargs="?", metavar="NET.json",
                        help="the network; without it, a random network from the flags below")
    verify.add_argument("--steps", type=integer, required=True, metavar="T",
                        help=f"number of time steps T, 1..{MAX_VERIFY_STEPS}")
    verify.add_argument("--input", metavar="STIM.npz",
                        help="input spikes, as for `snngen sim` (default: no input spikes)")
    verify.add_argument("--sim", choices=["amaranth", "icarus", "verilator"], default="amaranth",
                        help="amaranth: Amaranth's simulator; icarus, verilator: the generated "
                             "Verilog under cocotb, a Verilog harness driving the run "
                             "(default: %(default)s)")
    add_groups_flag(verify)
    add_runtime_weights_flag(verify)
    add_block_ram_flag(verify, "; with --sim icarus|verilator")
    add_pack_bits_flag(verify)
    add_spike_queue_depth_flag(verify)
    verify.add_argument("--out", metavar="TRACE.npz",
                        help="write the RTL's own trace (same format as `snngen sim`) "
                             "(default: not written)")
    verify.add_argument("--vcd", metavar="FILE.vcd",
                        help="with --sim amaranth: write a waveform (VCD) of the run "
                             "(default: none)")
    verify.add_argument("--waves", action="store_true",
                        help="with --sim icarus|verilator: dump a waveform (Icarus: FST, "
                             "Verilator: VCD) into the build folder, for GTKWave or Surfer")
    verify.add_argument("--build-dir", metavar="DIR",
                        help="with --sim icarus|verilator: the simulator build folder (default: "
                             "rtl_out/NET_verify_SIM_gG/; reused, rebuilt when anything changes)")
    verify.add_argument("--stall-seed", type=seed_value, metavar="S",
                        help="withhold ready/valid on the host streams at random (seeded, "
                             f"0..{MAX_SEED}) to exercise backpressure (default: none, no stalls)")
    verify.add_argument("--read-states", choices=["peek", "port"], default=None,
                        help="with --sim amaranth: peek reads the state memories through the "
                             "simulator after each step; port through the core's read-out port "
                             "(slower) (default: peek)")
    verify.add_argument("--json", action="store_true", help="print a JSON summary")
    add_network_flags(verify)
    verify.set_defaults(handler=_cmd_verify)
    synth = commands.add_parser(
        "synth", help="synthesize, place and route with yosys/nextpnr (YoWASP) and report",
        description="Synthesize the design with yosys and place and route it with nextpnr (both "
                    "from PyPI, through YoWASP), then report LUTs, flip-flops, carries, block "
                    "RAM, SPRAM, DSPs, post-route Fmax and utilization. The core is measured "
                    "inside a small pin wrapper (docs/results.md).",
    )
    synth.add_argument("network", nargs="?", metavar="NET.json",
                       help="the network; without it, a random network from the flags below")
    synth.add_argument("--target", required=True, choices=TARGET_NAMES,
                       help="FPGA: device and package, and its stated target clock "
                            "(48 MHz UP5K, 100 MHz HX8K, 150 MHz ECP5)")
    synth.add_argument("--groups", type=groups_or_auto, default=None, metavar="G|auto",
                       help="parallel neuron groups G, 1..N, or auto: the most groups whose "
                            "synthesis fits the device (a few yosys runs, bisecting up to 64), "
                            "or with --step-budget the fewest that meet it (default: 1, or one "
                            "per layer for a layered network)")
    synth.add_argument("--step-budget", type=number, metavar="US",
                       help="with --groups auto: the longest a step may take, in µs at the "
                            "target clock (--freq), counting the busiest step of binary "
                            "activity (every neuron and input spiking; docs/architecture.md) "
                            "(default: none)")
    add_runtime_weights_flag(synth)
    synth.add_argument("--freq", type=number, metavar="MHZ",
                       help="target clock for place and route (default: the target's)")
    synth.add_argument("--no-pnr", action="store_true",
                       help="stop after synthesis (no Fmax, no utilization)")
    synth.add_argument("--report", metavar="OUT.json",
                       help="write the report: flat keys target, lut, ff, carry, bram, spram, "
                            "dsp, fmax_mhz, utilization, and the raw tool statistics "
                            "(default: not written)")
    synth.add_argument("--work-dir", metavar="DIR",
                       help="keep the tool files (Verilog, netlist, logs) here (default: a "
                            "temporary folder, removed)")
    synth.add_argument("--speed", type=integer, metavar="GRADE",
                       help="ECP5 speed grade for timing: 6 (default, e.g. ULX3S), 7 or 8 "
                            "(e.g. OrangeCrab)")
    synth.add_argument("--seed-pnr", type=integer, default=1, metavar="S",
                       help="nextpnr placer seed (default: %(default)s)")
    synth.add_argument("--json", action="store_true", help="print the report as JSON")
    add_network_flags(synth)
    synth.set_defaults(handler=_cmd_synth)
    sweep = commands.add_parser(
        "sweep", help="synthesize a grid of networks and targets in parallel (resumable)",
        description="Design-space exploration: every combination of the lists below is a seeded "
                    "random network synthesized for a target. Runs in parallel with a progress "
                    "bar; finished points are kept in OUT/points/ and never redone. Writes "
                    "OUT/results.csv, OUT/summary.md and plots.",
    )
    sweep.add_argument("--neurons", type=grid_values(int, "neurons"), default=[32, 64, 128],
                       metavar="N,N,...|A:B[:S]", help="neuron counts, 1..16384 (default: 32,64,128)")
    sweep.add_argument("--bits", type=grid_values(int, "bits"), default=[4, 8, 16],
                       metavar="B,B,...|A:B[:S]", help="state widths, 2..32 (default: 4,8,16)")
    sweep.add_argument("--groups", type=grid_values(int, "groups"), default=[1],
                       metavar="G,G,...|A:B[:S]", help="neuron-group counts, 1..1024 and ≤ N (default: 1)")
    sweep.add_argument("--density", type=grid_values(float, "density"), default=[0.2],
                       metavar="P,P,...|A:B[:S]", help="recurrent densities, 0..1 (default: 0.2)")
    sweep.add_argument("--targets", type=target_list, default=["ice40-up5k"],
                       metavar="T,T,...|all",
                       help=f"targets, {', '.join(TARGET_NAMES)} (default: ice40-up5k)")
    sweep.add_argument("--seed", type=seed_value, default=0, metavar="S",
                       help=f"network seed, 0..{MAX_SEED} (default: 0)")
    add_runtime_weights_flag(sweep)
    sweep.add_argument("--no-pnr", action="store_true", help="synthesis only (no Fmax)")
    sweep.add_argument("--jobs", type=jobs_value, default=None, metavar="J",
                       help=f"parallel tool runs, 1..{MAX_JOBS} (default: the number of cores)")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.add_argument("--out", required=True, metavar="DIR", help="output folder")
    sweep.set_defaults(handler=_cmd_sweep)
