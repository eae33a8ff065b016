"""The parts every command shares: the parser class, exit codes, the network flags, argument
parsers, output checks, stimulus and trace files.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import zipfile

import numpy as np

from .._files import atomic_write_bytes, npz_bytes
from ..errors import InputError
from ..model.generate import DEFAULTS, random_network
from ..model.golden import Trace, check_input_array
from ..model.network import (
    MAX_INPUTS,
    MAX_NEURONS,
    Network,
    Overflow,
    Representation,
    Reset,
    load_network,
)
from ..model.stream import shift_input_row

EXIT_USAGE = 2


EXIT_MISMATCH = 1


def report_mismatch(command: str, mismatch: dict) -> int:
    """The first difference from the golden model, on stderr in the one error format; the exit
    status of a mismatch."""
    where = f"neuron {mismatch['neuron']}" if mismatch["neuron"] >= 0 else "the step"
    print(f"snngen {command}: error: mismatch at step {mismatch['step']}, {where}: "
          f"{mismatch['what']} expected {mismatch['expected']}, got {mismatch['got']}",
          file=sys.stderr)
    return EXIT_MISMATCH


EXIT_TOOL = 3


# Field names in validation messages, as the flags a user typed them.
FLAG_NAMES = {
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


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def integer(text: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, not {text!r}") from None


def groups_or_auto(text: str) -> int | str:
    """An argparse type: a group count, or ``auto`` (``snngen synth`` picks it)."""
    if text == "auto":
        return text
    try:
        return int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer or auto, not {text!r}") from None


def bounded(low: int, high: int, name: str):
    """An argparse type: an integer in low..high, with one message for every command."""
    def parse(text: str) -> int:
        value = integer(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be in {low}..{high}, not {value}")
        return value
    parse.__name__ = name
    return parse


#: The one validation of the flags several commands share.
MAX_SEED = 2**32 - 1
MAX_JOBS = 256
seed_value = bounded(0, MAX_SEED, "seed")
jobs_value = bounded(1, MAX_JOBS, "jobs")


#: The synthesis targets (snngen.synth.flow.TARGETS), for every flag that names one.
TARGET_NAMES = ("ice40-up5k", "ice40-hx8k", "ecp5-25f", "ecp5-85f")


def target_list(text: str) -> list[str]:
    """An argparse type: a comma list of targets, or 'all'."""
    values = list(TARGET_NAMES) if text == "all" else text.split(",")
    for value in values:
        if value not in TARGET_NAMES:
            raise argparse.ArgumentTypeError(
                f"must be 'all' or a comma list of {', '.join(TARGET_NAMES)}, not {value!r}")
    return values


def number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, not {text!r}") from None
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, not {text!r}")
    return value


def leak_shift_value(text: str) -> int | str:
    if text.lower() in ("none", "null", "off"):
        return "none"
    try:
        return int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer or 'none', not {text!r}") from None


def choices(kind: type) -> list[str]:
    return [member.value for member in kind]


def add_network_flags(parser: argparse.ArgumentParser) -> None:
    """The flags that describe a random network; shared by every command that can make one."""
    group = parser.add_argument_group("network (a seeded random network; see docs/network-format.md)")
    group.add_argument("--neurons", type=integer, default=DEFAULTS["neurons"], metavar="N",
                       help=f"number of neurons N, 1..{MAX_NEURONS} (default: %(default)s)")
    group.add_argument("--inputs", type=integer, default=DEFAULTS["inputs"], metavar="K",
                       help=f"number of input channels K, 0..{MAX_INPUTS} (default: %(default)s)")
    group.add_argument("--bits", type=integer, default=DEFAULTS["bits"], metavar="B",
                       help="membrane state width B, 2..32 (default: %(default)s)")
    group.add_argument("--weight-bits", type=integer, default=None, metavar="Bw",
                       help="signed weight width Bw, 1..32 (default: B, at most 16)")
    group.add_argument("--density", type=number, default=DEFAULTS["density"], metavar="P",
                       help="fraction of non-zero recurrent weights, 0..1, no self-loops "
                            "(default: %(default)s)")
    group.add_argument("--seed", type=seed_value, default=DEFAULTS["seed"], metavar="S",
                       help=f"random seed, 0..{MAX_SEED}; the same flags always give the same "
                            "network (default: %(default)s)")
    group.add_argument("--leak-shift", type=leak_shift_value, default=None, metavar="K|none",
                       help="leak v − (v >> k), or 'none' for no leak (default: 4, or B−1 when B ≤ 4)")
    group.add_argument("--threshold", type=integer, default=None, metavar="THETA",
                       help="firing threshold, ≥ 1 and in the lattice "
                            "(default: 2^(B−3) signed, 2^(B−2) unsigned)")
    group.add_argument("--reset", choices=choices(Reset), default=DEFAULTS["reset"].value,
                       help="state after a spike: reset_value, v − θ, or unchanged "
                            "(default: %(default)s)")
    group.add_argument("--reset-value", type=integer, default=DEFAULTS["reset_value"],
                       metavar="R", help="state after a spike with --reset zero (default: %(default)s)")
    group.add_argument("--overflow", choices=choices(Overflow), default=DEFAULTS["overflow"].value,
                       help="clamp to the lattice or wrap modulo 2^B (default: %(default)s)")
    group.add_argument("--compat", choices=["xylo", "loihi"], default=None,
                       help="a network of a chip's neuron model, every option fixed as the chip "
                            "does (semantics v2; docs/semantics.md): xylo (XyloSim: 16-bit CUBA, "
                            "multi-spike; --neurons hidden + 4 readout) or loihi (Lava's "
                            "bit-accurate LIF: 24-bit CUBA). Only --neurons, --inputs, "
                            "--density and --seed apply (default: none, the plain semantics)")
    group.add_argument("--representation", choices=choices(Representation),
                       default=DEFAULTS["representation"].value,
                       help="signed [−2^(B−1), 2^(B−1)−1] or unsigned [0, 2^B−1] "
                            "(default: %(default)s)")


# The flags a compatibility preset fixes, with the value each has when a user did not type it.
_PRESET_FIXES = {"bits": DEFAULTS["bits"], "weight_bits": None, "leak_shift": None,
                 "threshold": None, "reset": DEFAULTS["reset"].value,
                 "reset_value": DEFAULTS["reset_value"], "overflow": DEFAULTS["overflow"].value,
                 "representation": DEFAULTS["representation"].value}


# Generating and writing a random network peaks at about 36 bytes per N² (measured at N = 4096:
# 612 MB): the weight matrix, its random draws and the JSON text.
GENERATION_BYTES_PER_SYNAPSE_SLOT = 36


def _check_generation_memory(neurons: object) -> None:
    if isinstance(neurons, bool) or not isinstance(neurons, int) or neurons < 1:
        return   # random_network names the bad value
    need = GENERATION_BYTES_PER_SYNAPSE_SLOT * neurons * neurons
    available = available_memory()
    if need > 0.8 * available:
        raise InputError(f"--neurons {neurons} needs about {need / 2**30:.1f} GiB to generate, "
                         f"more than the {available / 2**30:.1f} GiB this machine has free")
    if need > 2 << 30:
        print(f"note: a {neurons:,}-neuron network takes about {need / 2**30:.1f} GiB while it "
              "is generated", file=sys.stderr)


def network_from_flags(args: argparse.Namespace) -> Network:
    if getattr(args, "compat", None) is not None:
        from ..model.compat import random_compat_network

        for field, default in _PRESET_FIXES.items():
            if getattr(args, field) != default:
                flag = "--" + field.replace("_", "-")
                raise InputError(f"{flag} does not apply with --compat {args.compat}: the "
                                 "preset fixes it as the chip does")
        try:
            return random_compat_network(args.compat, neurons=args.neurons, inputs=args.inputs,
                                         density=args.density, seed=args.seed)
        except InputError as error:
            raise type(error)(as_flag(str(error))) from None
    _check_generation_memory(args.neurons)
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
        raise type(error)(as_flag(str(error))) from None


def as_flag(message: str) -> str:
    """Name the flag a user typed rather than the field it sets (``--bits``, not ``state_bits``)."""
    field = message.split(" ", 1)[0]
    if field in FLAG_NAMES:
        return FLAG_NAMES[field] + message[len(field):]
    return message


def check_output(path: str, flag: str = "--out") -> str:
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise InputError(f"{flag} must be a file path, not the directory {path!r}")
    if not os.path.isdir(folder):
        raise InputError(f"{flag} must be in an existing directory, not {path!r}")
    try:
        # access() says yes to root everywhere, even under /proc: try a real file.
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".", suffix=".partial")
        os.close(fd)
        os.unlink(probe)
    except OSError:
        raise InputError(f"{flag} must be in a writable directory, not {path!r}") from None
    return path


def available_memory() -> int:
    """Bytes of memory available to a new allocation (MemAvailable), or 4 GiB if unknown."""
    try:
        with open("/proc/meminfo") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 4 << 30


def check_trace_memory(steps: int, network: Network | None, copies: int = 1,
                       record: str = "state", neurons: int | None = None) -> None:
    """Refuse a run whose traces (spikes, states, currents; `copies` of them) cannot fit.

    `neurons` stands in for a network that is not at hand (a board's run).
    """
    current = network is not None and network.dynamics is not None
    n = network.neurons if network is not None else neurons
    per_step = n * (1 if record == "spikes" else 1 + 8 + (8 if current else 0))
    need = steps * per_step * copies
    available = available_memory()
    if need > 0.8 * available:
        raise InputError(f"--steps {steps} needs about {need / 2**30:.1f} GiB for the traces of "
                         f"{n} neurons, more than the {available / 2**30:.1f} GiB "
                         "this machine has free: run fewer steps, or stream the trace to a "
                         "folder (--out DIR)")


#: The longest runs: the golden model streams any length; an RTL simulation runs 10³–10⁵ steps/s.
MAX_SIM_STEPS = 10**12
MAX_VERIFY_STEPS = 10**9


def check_steps(steps: int, maximum: int) -> None:
    """The one check of --steps."""
    if not 1 <= steps <= maximum:
        raise InputError(f"--steps must be in 1..{maximum}, not {steps}")


#: Runs this long draw a progress bar (unless --quiet).
PROGRESS_STEPS = 100_000


def check_trace_folder(path: str, size: int, flag: str = "--out") -> str:
    """Refuse a trace folder that cannot be written, or whose files will not fit on its disk."""
    from ..model.stream import is_trace_folder

    target = os.path.normpath(os.path.abspath(path))
    parent = os.path.dirname(target)
    if os.path.exists(target) and not is_trace_folder(target):
        kind = "folder" if os.path.isdir(target) else "file"
        raise InputError(f"{flag} {path} is an existing {kind} that is not a trace folder; "
                         "choose a new name or remove it")
    check_output(os.path.join(target, "summary.json") if os.path.isdir(target) else target,
                 flag)
    free = shutil.disk_usage(parent).free
    if size > 0.95 * free:
        raise InputError(f"{flag} {path}: the trace takes {size / 2**30:.1f} GiB, more than the "
                         f"{free / 2**30:.1f} GiB free on its disk: record less (--record "
                         "spikes or none) or run fewer steps")
    return path


def network_summary(network: Network) -> dict:
    return {**network.scalar_fields(), "synapses": network.synapses}


def _check_npy_header(path: str, archive) -> None:
    """Refuse an 'inputs' array too large for memory from its header, before reading it."""
    try:
        with archive.zip.open("inputs.npy") as member:
            version = np.lib.format.read_magic(member)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read_header(member)
    except (KeyError, ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
        raise InputError(f"--input {path}: 'inputs' has no readable .npy header ({error})"
                         ) from None
    size = int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize
    available = available_memory()
    if size > available // 2:
        raise InputError(f"--input {path}: 'inputs' of shape {tuple(shape)} would take "
                         f"{size / 2**30:.1f} GiB, more than half the {available / 2**30:.1f} "
                         "GiB this machine has free")


def _mapped_stimulus(path: str, channels: int, steps: int) -> np.ndarray:
    """STIM.npy opened memory-mapped; its shape and dtype checked, its values left to the run."""
    try:
        inputs = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise InputError(f"--input {path}: not a readable .npy file ({error})") from None
    if inputs.dtype.kind not in "biu":
        raise InputError(f"--input {path}: must hold 0/1 integers, not {inputs.dtype} values")
    if inputs.ndim != 2 or inputs.shape[1] != channels:
        raise InputError(f"--input {path}: must have shape (steps, {channels}) for a network "
                         f"with {channels} inputs, not {inputs.shape}")
    if inputs.shape[0] < steps:
        raise InputError(f"--input {path}: has {inputs.shape[0]} rows (steps), fewer than the "
                         f"{steps} asked for")
    return inputs


def check_stimulus_values(inputs: np.ndarray, steps: int, label: str, *, max_count: int = 1
                          ) -> None:
    """Check the first `steps` rows of a (memory-mapped) stimulus a block at a time."""
    block = max(1, (16 << 20) // max(1, inputs.shape[1]))
    for start in range(0, steps, block):
        try:
            check_input_array(inputs.shape[1], min(block, steps - start),
                              np.asarray(inputs[start:start + block]), max_count=max_count)
        except InputError as error:
            raise type(error)(f"{label}: {shift_input_row(str(error), start)}") from None


def load_stimulus(path: str, channels: int, steps: int, *, mapped: bool = False) -> np.ndarray:
    """Read STIM.npz (``inputs``: 0/1 of shape [≥T, K]) and validate it for K = `channels`.

    With `mapped`, STIM.npy is accepted too and returned memory-mapped, unread: its values are
    validated a chunk at a time by the run (:func:`snngen.model.stream.run_chunked`).
    """
    try:
        file = open(path, "rb")  # noqa: SIM115 - closed below, also on every error path
    except FileNotFoundError:
        raise InputError(f"--input {path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"--input {path}: is a directory, not an .npz file") from None
    except OSError as error:
        raise InputError(f"--input {path}: cannot read: {error.strerror}") from None
    with file:
        magic = file.read(6)
        if mapped and magic == b"\x93NUMPY":
            file.seek(0)
            return _mapped_stimulus(path, channels, steps)
        if magic[:4] != b"PK\x03\x04":
            also = " or an .npy file" if mapped else ""
            raise InputError(
                f"--input {path}: must be an .npz archive (numpy.savez) holding 'inputs'{also}"
            )
        file.seek(0)
        try:
            with np.load(file, allow_pickle=False) as archive:
                if "inputs" not in archive.files:
                    raise InputError(f"--input {path}: must hold an array named 'inputs', "
                                     f"not only {sorted(archive.files)}")
                _check_npy_header(path, archive)
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


def save_arrays(arrays: dict[str, np.ndarray], path: str) -> None:
    """The arrays of a trace as TRACE.npz, written atomically."""
    atomic_write_bytes(path, npz_bytes(arrays))


def save_trace(trace: Trace, path: str) -> None:
    """TRACE.npz: ``spikes`` uint8 [T, N] and ``state`` int64 [T, N]; row 0 is after step 1.

    A network with a synaptic current also gets ``current`` int64 [T, N]; spikes are counts.
    """
    arrays = {"spikes": trace.spikes.astype(np.uint8), "state": trace.state.astype(np.int64)}
    if trace.current is not None:
        arrays["current"] = trace.current.astype(np.int64)
    atomic_write_bytes(path, npz_bytes(arrays))


#: Every network flag with the value it has when a user did not type it.
NETWORK_FLAG_DEFAULTS = {**_PRESET_FIXES, "neurons": DEFAULTS["neurons"],
                         "inputs": DEFAULTS["inputs"], "density": DEFAULTS["density"],
                         "seed": DEFAULTS["seed"], "compat": None}


def typed_network_flags(args: argparse.Namespace) -> list[str]:
    """The network flags a user typed (those not at their defaults), as --flags."""
    return ["--" + field.replace("_", "-") for field, default in NETWORK_FLAG_DEFAULTS.items()
            if getattr(args, field, default) != default]


def network_argument(args: argparse.Namespace) -> tuple[Network, str]:
    """The network of a command that takes NET.json or the network flags, and a design name.

    A network is given one way: NET.json, or the flags (a seeded random network); a flag typed
    beside NET.json is refused rather than ignored.
    """
    if args.network is not None:
        typed = typed_network_flags(args)
        if typed:
            raise InputError(f"{typed[0]} does not apply with {args.network}: a network is given "
                             "as NET.json or as the network flags, not both")
        network = load_network(args.network)
        name = os.path.splitext(os.path.basename(args.network))[0]
        return network, name
    network = network_from_flags(args)
    density = f"{args.density:g}".replace(".", "p")
    return network, f"random_n{network.neurons}_b{network.state.bits}_d{density}_s{args.seed}"


def list_of(kind, name: str):
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


MAX_RANGE_VALUES = 100_000


def grid_values(kind, name: str):
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
                if count > MAX_RANGE_VALUES:
                    raise argparse.ArgumentTypeError(
                        f"the range {text!r} gives {count:,} values, more than "
                        f"{MAX_RANGE_VALUES:,}")
                values = [start + i * step for i in range(count)]
                return [round(v, 6) for v in values] if kind is float else values
            return [kind(p) for p in text.split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be a comma list or an increasing range START:STOP[:STEP] of "
                f"{kind.__name__}s, not {text!r}") from None
    parse.__name__ = name
    return parse


def option_list(kind: type, name: str):
    allowed = choices(kind)

    def parse(text: str):
        values = allowed if text == "all" else text.split(",")
        for value in values:
            if value not in allowed:
                raise argparse.ArgumentTypeError(
                    f"must be 'all' or a comma list of {', '.join(allowed)}, not {text!r}")
        return values
    parse.__name__ = name
    return parse


def add_runtime_weights_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runtime-weights", action="store_true",
                        help="synapse tables are RAM loaded after reset through the "
                             "synapse_load port (synapses.hex) instead of ROM in the bitstream; "
                             "on the iCE40 UP5K they go to SPRAM (docs/architecture.md)")


def add_block_ram_flag(parser: argparse.ArgumentParser, extra: str = "") -> None:
    parser.add_argument("--block-ram", choices=["inferred", "dp16kd"], default="inferred",
                        help="how synapse tables longer than one block RAM are built: inferred "
                             "memories (any device and simulator), or ECP5 DP16KD instances "
                             "with their output register on, as `snngen synth` builds them for "
                             "ECP5 targets (Verilog simulators load snngen's model, "
                             f"sim/ecp5_dp16kd.v){extra} (default: %(default)s)")


def pack_bits_value(text: str) -> int:
    """An argparse type: a synapse-table word width in 0..64 (0: one entry per word)."""
    value = integer(text)
    if not 0 <= value <= 64:
        raise argparse.ArgumentTypeError(f"must be in 0..64 bits, not {value}")
    return value


def add_pack_bits_flag(parser: argparse.ArgumentParser, extra: str = "") -> None:
    parser.add_argument("--pack-bits", type=pack_bits_value, default=0, metavar="BITS",
                        help="pack synapse-table entries into words of BITS bits, as many as "
                             "fit (a power of two), as `snngen synth` does for runtime weights "
                             "in an iCE40 UP5K's 16-bit SPRAM; 0 stores one entry per word"
                             f"{extra} (default: %(default)s)")


def spike_queue_depth_value(text: str) -> int:
    """An argparse type: a spike queue depth in 0..16777216 (0: room for every spike)."""
    value = integer(text)
    if not 0 <= value <= 1 << 24:
        raise argparse.ArgumentTypeError(f"must be in 0..16777216 entries, not {value}")
    return value


def add_spike_queue_depth_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spike-queue-depth", type=spike_queue_depth_value, default=0,
                        metavar="D",
                        help="at most D entries in each spike queue, a larger group's sweep "
                             "waiting for room (nothing is lost), as `snngen synth` builds "
                             "iCE40 designs (256); 0 gives every queue room for all its "
                             "group's spikes (default: %(default)s)")


def add_dt_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dt", type=number, default=1e-4, metavar="SECONDS",
                        help="time step the graph's tau refer to (default: 1e-4, snnTorch's)")


def add_lattice_flags(parser: argparse.ArgumentParser) -> None:
    """--representation and --overflow of commands that make a network from a NIR graph."""
    parser.add_argument("--representation", choices=choices(Representation), default="signed",
                        help="state representation (default: signed)")
    parser.add_argument("--overflow", choices=choices(Overflow), default="saturate",
                        help="overflow mode (default: saturate)")


def add_groups_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--groups", type=integer, default=None, metavar="G",
                        help="parallel neuron groups G, 1..N; each time-multiplexes about N/G "
                             "neurons (default: 1, or one per layer for a layered network; a "
                             "layered network needs at least one per layer)")


class ProgressBar:
    """A tqdm bar on stderr fed by a library's progress callback (see :mod:`snngen._progress`).

    Parameters
    ----------
    description : str
        The bar's label.
    unit : str
        What one step of the bar counts.
    enabled : bool
        False (``--quiet``) draws nothing.
    """

    def __init__(self, description: str, unit: str, enabled: bool = True) -> None:
        self._description, self._unit, self._enabled = description, unit, enabled
        self._bar = None

    def __call__(self, done: int, total: int, note: str) -> None:
        if not self._enabled:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=done, desc=self._description, unit=self._unit,
                             dynamic_ncols=True)
        else:
            self._bar.update(done - self._bar.n)
        if note:
            self._bar.set_postfix_str(note)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc_info) -> None:
        if self._bar is not None:
            self._bar.close()
