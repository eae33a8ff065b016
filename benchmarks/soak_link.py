"""Soak the host link: long runs over the compiled board top through a faulty line.

    python benchmarks/soak_link.py [--steps 100000] [--rate 0.001] [--read-states]
                                   [--kinds flip,drop,duplicate,garbage,stall] [--seed 1]
                                   [--neurons 128] [--json out.json]

The board is the default network's board core (128 neurons, `snngen network` defaults, one
group), compiled by Verilator with its UART pins and run in lockstep with the host
(`snngen.board.verilated`), behind `snngen.board.faults.FaultyTransport`: each byte, in each
direction, suffers a fault with probability RATE, drawn from KINDS. The run must complete and
its spikes (and, with --read-states, every membrane value) must equal the golden model's; the
table reports the faults injected, the retries the host needed, by cause, and the bytes it
skipped. Exit status 1 if the trace differs (silent corruption) or the link gives up.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

import numpy as np

from snngen.board.faults import FAULT_KINDS, FaultyTransport
from snngen.board.host import HostLink, LinkError
from snngen.board.verilated import VerilatedSerial
from snngen.hw.plan import plan_hardware
from snngen.model.generate import DEFAULTS, random_network
from snngen.model.golden import simulate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000, help="time steps (default 10^5)")
    parser.add_argument("--rate", type=float, default=1e-3,
                        help="fault probability per byte and direction (default 1e-3)")
    parser.add_argument("--kinds", default=",".join(FAULT_KINDS),
                        help="comma-separated fault kinds (default: all)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the faults and inputs")
    parser.add_argument("--neurons", type=int, default=DEFAULTS["neurons"])
    parser.add_argument("--input-rate", type=float, default=0.2,
                        help="probability that an input channel spikes in a step")
    parser.add_argument("--read-states", action="store_true",
                        help="read every membrane value every step (4N bytes more a step)")
    parser.add_argument("--timeout", type=float, default=0.05,
                        help="host time-out per attempt, simulated seconds (default 0.05)")
    parser.add_argument("--build", help="Verilator build folder (default: a temporary one)")
    parser.add_argument("--json", help="also write the figures as JSON here")
    args = parser.parse_args()

    network = random_network(**{**DEFAULTS, "neurons": args.neurons, "seed": 0})
    rng = np.random.default_rng(args.seed)
    inputs = (rng.random((args.steps, network.inputs)) < args.input_rate).astype(np.uint8)
    expected = simulate(network, args.steps, inputs)
    folder = args.build or tempfile.mkdtemp(prefix="snngen-soak-")
    board = VerilatedSerial(plan_hardware(network, 1), folder)
    line = FaultyTransport(board, args.rate, kinds=args.kinds.split(","), seed=args.seed)
    link = HostLink(line, timeout=args.timeout)
    start = time.perf_counter()
    failure = None
    done = [0]

    def progress(steps):
        done[0] = steps
        if steps % max(1, args.steps // 20) == 0:
            print(f"  {steps}/{args.steps} steps, {link.retry_summary()}", file=sys.stderr)

    try:
        trace = link.run(args.steps, inputs, read_states=args.read_states, progress=progress)
    except LinkError as error:
        failure = str(error)
        trace = None
    finally:
        board.close()
    elapsed = time.perf_counter() - start
    exact = trace is not None and np.array_equal(trace.spikes, expected.spikes) and (
        not args.read_states or np.array_equal(trace.state, expected.state))
    figures = {
        "neurons": network.neurons, "steps": args.steps, "steps_done": done[0],
        "rate": args.rate, "kinds": args.kinds.split(","), "seed": args.seed,
        "read_states": args.read_states, "faults": dict(sorted(line.injected.items())),
        "faults_total": sum(line.injected.values()), "retries": dict(sorted(link.retries.items())),
        "retries_total": sum(link.retries.values()), "skipped_bytes": link.discarded_bytes,
        "completed": failure is None, "bit_exact": bool(exact), "failure": failure,
        "spikes": int(expected.spikes.sum()), "seconds": round(elapsed, 1),
    }
    print("| steps | rate | faults | retries | skipped bytes | completed | bit-exact | time |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {done[0]:,} of {args.steps:,} | {args.rate:g} | {figures['faults_total']:,} | "
          f"{link.retry_summary()} | {link.discarded_bytes:,} | "
          f"{'yes' if failure is None else 'no: ' + failure} | {'yes' if exact else 'NO'} | "
          f"{elapsed:.0f} s |")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(figures, file, indent=2, sort_keys=True)
    # A trace that completed but differs is the one outcome that must never happen.
    if failure is None and not exact:
        print("SILENT CORRUPTION: the run completed with a wrong trace", file=sys.stderr)
        return 1
    return 0 if failure is None else 1


if __name__ == "__main__":
    sys.exit(main())
