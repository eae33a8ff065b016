"""``snngen network`` and ``snngen sim``: make a network, run the golden model."""

from __future__ import annotations

import argparse
import json

import numpy as np

from ..errors import InputError
from ..model.golden import Trace, find_orbit, simulate
from ..model.network import Network, load_network, save_network
from .common import (
    add_network_flags,
    check_output,
    check_trace_memory,
    integer,
    load_stimulus,
    network_from_flags,
    network_summary,
    save_trace,
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
    if args.steps < 1:
        raise InputError(f"--steps must be >= 1, not {args.steps}")
    check_output(args.out)
    network = load_network(args.network)
    check_trace_memory(args.steps, network)
    inputs = None
    if args.input is not None:
        inputs = load_stimulus(args.input, network.inputs, args.steps)
    trace = simulate(network, args.steps, inputs, method=args.method)
    save_trace(trace, args.out)
    summary = _trace_summary(network, trace, driven=inputs is not None and bool(inputs.any()))
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    else:
        orbit = summary["orbit"]
        if orbit is None:
            if summary["driven"]:
                orbit_text = "not computed (driven by input spikes)"
            elif not summary["orbit_searched"]:
                orbit_text = "not computed (refractory counters are not recorded)"
            else:
                orbit_text = f"no repeat of the full state within {trace.steps} steps"
        else:
            kind = "fixed point" if orbit["period"] == 1 else f"period {orbit['period']}"
            orbit_text = f"{kind} after a transient of {orbit['transient']} steps"
        print(f"wrote {args.out}: {trace.steps} steps × {network.neurons} neurons")
        print(f"  spikes        {summary['spikes']}")
        print(f"  firing rate   {summary['firing_rate']:.4f} spikes/neuron/step")
        print(f"  active        {summary['active_neurons']}/{network.neurons} neurons spiked")
        print(f"  orbit         {orbit_text}")
    return 0


def _trace_summary(network: Network, trace: Trace, driven: bool) -> dict:
    dynamics = network.dynamics
    # The full state holds the synaptic current too; refractory counters are not in the trace,
    # so no orbit is claimed for a network that has them.
    unrecorded = dynamics is not None and bool(dynamics.refractory.any())
    orbit = None
    if not driven and not unrecorded:
        initial, state = network.initial_state, trace.state
        if trace.current is not None:
            initial = np.concatenate([initial, dynamics.current.initial])
            state = np.concatenate([state, trace.current], axis=1)
        orbit = find_orbit(initial, state, trace.spikes)
    return {
        "orbit_searched": not driven and not unrecorded,
        "steps": trace.steps,
        "neurons": network.neurons,
        "spikes": int(trace.spikes.sum(dtype=np.int64)),
        "firing_rate": trace.firing_rate,
        "active_neurons": int(np.count_nonzero(trace.spikes.any(axis=0))),
        "driven": driven,
        "orbit": None if orbit is None else {"transient": orbit.transient, "period": orbit.period},
    }


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
        "sim", help="run the golden model and write TRACE.npz",
        description="Run the golden model (the reference integer semantics) from v(0) = "
                    "initial_state, s(0) = 0, and write the spikes and states of every step.",
    )
    sim.add_argument("network", metavar="NET.json", help="the network to run")
    sim.add_argument("--steps", type=integer, required=True, metavar="T",
                     help="number of time steps T ≥ 1")
    sim.add_argument("--input", metavar="STIM.npz",
                     help="input spikes: an .npz with 'inputs', 0/1 of shape [T, K] "
                          "(row 0 is x(1); extra rows are ignored). Default: no input spikes")
    sim.add_argument("--out", required=True, metavar="TRACE.npz",
                     help="where to write 'spikes' uint8 [T, N] and 'state' int64 [T, N] "
                          "(row 0 is after step 1)")
    sim.add_argument("--method", choices=["auto", "dense", "event"], default="auto",
                     help="dense: a matrix-vector product a step; event: only the fan-out of "
                          "spiking neurons; auto: event for sparse large networks. Identical "
                          "results (default: %(default)s)")
    sim.add_argument("--json", action="store_true",
                     help="print the summary as JSON instead of a readable table")
    sim.set_defaults(handler=_cmd_sim)
