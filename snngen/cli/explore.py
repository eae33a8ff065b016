"""``snngen explore``: the integer-state dynamics study."""

from __future__ import annotations

import argparse

from ..errors import InputError
from ..model.network import Overflow, Representation, Reset
from .common import (
    MAX_JOBS,
    ProgressBar,
    check_steps,
    grid_values,
    integer,
    jobs_value,
    leak_shift_value,
    option_list,
)

# A point takes a few milliseconds to seconds: a million is days of work.
MAX_POINTS = 1_000_000
MAX_EXPLORE_STEPS = 1_000_000


def _cmd_explore(args: argparse.Namespace) -> int:
    from ..study.explore import ExplorePoint, run_explore

    for flag, values, lo, hi in (("--neurons", args.neurons, 1, 4096),
                                 ("--bits", args.bits, 2, 32)):
        for value in values:
            if not lo <= value <= hi:
                raise InputError(f"{flag} values must be in {lo}..{hi}, not {value}")
    for value in args.density:
        if not 0.0 < value <= 1.0:
            raise InputError(f"--density values must be in 0..1 (above 0), not {value}")
    check_steps(args.steps, MAX_EXPLORE_STEPS)
    if not 1 <= args.seeds <= 10_000:
        raise InputError(f"--seeds must be in 1..10000, not {args.seeds}")
    horizon = args.steps if args.horizon is None else args.horizon
    if not args.steps <= horizon <= 100_000_000:
        raise InputError(f"--horizon must be in {args.steps}..100000000 (at least --steps), "
                         f"not {horizon}")
    leak = None if args.leak_shift == "none" else args.leak_shift
    if leak is not None and not 1 <= leak <= 31:
        raise InputError(f"--leak-shift must be in 1..31 or none, not {leak}")
    axes = {"--representation": args.representation, "--overflow": args.overflow,
            "--reset": args.reset, "--bits": args.bits, "--neurons": args.neurons,
            "--density": args.density}
    count = args.seeds
    for values in axes.values():
        count *= len(values)
    if count > MAX_POINTS:
        sizes = " x ".join(f"{len(values)} {flag[2:]}" for flag, values in axes.items())
        raise InputError(f"the grid has {count:,} points ({sizes} x {args.seeds} seeds), more "
                         f"than {MAX_POINTS:,}: narrow the ranges")
    points = [ExplorePoint(n, d, b, seed, rep, ovf, reset, leak)
              for rep in args.representation for ovf in args.overflow for reset in args.reset
              for b in args.bits for n in args.neurons for d in args.density
              for seed in range(args.seeds)]
    show = None
    if args.show is not None:
        parts = args.show.split(":")
        try:
            n, d, b = int(parts[0]), float(parts[1]), int(parts[2])
            seed = int(parts[3]) if len(parts) > 3 else 0
        except (ValueError, IndexError):
            raise InputError(f"--show must be N:DENSITY:BITS[:SEED], not {args.show!r}") from None
        show = ExplorePoint(n, d, b, seed, args.representation[0], args.overflow[0],
                            args.reset[0], leak)
        show.network()  # validates it
    with ProgressBar("explore", "run", enabled=not args.quiet) as bar:
        rows = run_explore(args.out, points, steps=args.steps, horizon=horizon, jobs=args.jobs,
                           scheduler=args.scheduler, progress=bar,
                           save_networks=args.save_networks, show=show)
    recurred = sum(r["period"] is not None for r in rows)
    print(f"wrote {args.out}/: results.csv, summary.md, plots; {len(rows)} runs, "
          f"{recurred} reached their orbit within {horizon} steps")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add this family's subcommands to the ``snngen`` parser."""
    explore = commands.add_parser(
        "explore", help="the integer-state dynamics study (regimes, exact orbits) over a grid",
        description="Run autonomous networks (no inputs) from their initial states over a grid of "
                    "sizes, densities, bit widths and semantics; find each run's orbit exactly "
                    "(first revisit of the full state) and classify it: quiescent, fixed point, "
                    "periodic, saturated, or not yet recurrent. The defaults are the seed paper's "
                    "grid (297 runs) and semantics (unsigned, no reset, shift leak). Writes "
                    "OUT/results.csv, OUT/summary.md and plots; resumable (finished runs are "
                    "kept in OUT/points/). Scaling of weights and thresholds: docs/dynamics.md.",
    )
    explore.add_argument("--neurons", type=grid_values(int, "neurons"),
                         default=list(range(30, 131, 10)), metavar="N,N,...|A:B[:S]",
                         help="network sizes, 1..4096: an inclusive range or a list (default: "
                              "30:130:10)")
    explore.add_argument("--density", type=grid_values(float, "density"),
                         default=[round(0.1 * i, 6) for i in range(1, 10)], metavar="P,P,...|A:B[:S]",
                         help="recurrent densities, 0..1 (default: 0.1:0.9:0.1)")
    explore.add_argument("--bits", type=grid_values(int, "bits"), default=[4, 8, 16],
                         metavar="B,B,...|A:B[:S]", help="state widths, 2..32, e.g. 2:16 to locate the "
                                                   "activity threshold (default: 4,8,16)")
    explore.add_argument("--steps", type=integer, default=1000, metavar="T",
                         help=f"steps T over which rate and activity are measured, "
                              f"1..{MAX_EXPLORE_STEPS} (default: %(default)s)")
    explore.add_argument("--seeds", type=integer, default=1, metavar="S",
                         help="networks per grid point, seeds 0..S-1 (default: %(default)s)")
    explore.add_argument("--representation", type=option_list(Representation, "representation"),
                         default=["unsigned"], metavar="R,...|all",
                         help="signed, unsigned, or both (default: unsigned)")
    explore.add_argument("--overflow", type=option_list(Overflow, "overflow"),
                         default=["saturate"], metavar="O,...|all",
                         help="saturate (clip), wrap, or both (default: saturate)")
    explore.add_argument("--reset", type=option_list(Reset, "reset"), default=["none"],
                         metavar="R,...|all",
                         help="zero, subtract, none, or a list (default: none)")
    explore.add_argument("--leak-shift", type=leak_shift_value, default=4, metavar="K|none",
                         help="leak v − (v >> k) for every width (default: 4; k ≥ B means no "
                              "leak on an unsigned lattice, see docs/dynamics.md)")
    explore.add_argument("--horizon", type=integer, metavar="H",
                         help="search orbits up to H steps: runs that have not recurred by T "
                              "continue (exact Brent cycle search) (default: T)")
    explore.add_argument("--scheduler", metavar="ADDRESS",
                         help="run on this Dask distributed scheduler (tcp://host:8786) instead "
                              "of local processes; needs pip install 'snngen[dask]' (default: "
                              "none, local processes)")
    explore.add_argument("--jobs", type=jobs_value, metavar="J",
                         help=f"local worker processes, 1..{MAX_JOBS} (default: the number of "
                              "cores)")
    explore.add_argument("--save-networks", action="store_true",
                         help="write each run's network.json to OUT/networks/KEY.json, ready "
                              "for snngen build / verify")
    explore.add_argument("--show", metavar="N:D:B[:SEED]",
                         help="the run drawn in raster.png and membrane.png (default: a periodic "
                              "run of the grid)")
    explore.add_argument("--quiet", action="store_true", help="no progress bar")
    explore.add_argument("--out", required=True, metavar="DIR", help="output folder")
    explore.set_defaults(handler=_cmd_explore)
