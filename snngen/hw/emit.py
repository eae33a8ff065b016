"""``snngen build``: Verilog, network.json, manifest.json and a README for one network.

Everything is generated in memory first and then written file by file atomically, so a failure
never leaves a half-written design behind, and the same inputs give byte-identical files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from importlib import metadata

from amaranth import Shape
from amaranth.back import verilog
from amaranth.lib import data, wiring

from .. import __version__
from .._files import atomic_write_text
from ..errors import InputError
from ..model.network import Network, network_to_json
from .core import SNNCore
from .plan import HardwarePlan, plan_hardware
from .queue import SMALL_QUEUE_DEPTH

__all__ = ["Design", "build_design", "generate", "load_words_hex", "manifest_ports", "to_verilog",
           "top_name", "uninitialised_memories"]

MANIFEST_FORMAT = "snngen-manifest"
MANIFEST_VERSION = 1

# Amaranth's Verilog is width-correct by construction but relies on implicit extension and
# truncation, and leaves unreachable case arms; Verilator reports those as style warnings. They are
# switched off in the file itself, so that a plain `verilator --lint-only` passes.
_LINT_HEADER = (
    "/* verilator lint_off WIDTHEXPAND */\n"
    "/* verilator lint_off WIDTHTRUNC */\n"
    "/* verilator lint_off CASEINCOMPLETE */\n"
    "/* verilator lint_off ASCRANGE */\n"
    "/* verilator lint_off UNOPTFLAT */\n"
    "/* verilator lint_off CMPCONST */\n"
    "/* verilator lint_off UNSIGNED */\n"
)

# Yosys makes every `always @*` block evaluate once at time 0 by giving it a dummy register that
# an initializer sets to 0. Icarus (-g2012) runs initializers before any process waits, so no block
# sees that event, and combinational signals whose inputs do not change stay X after reset (a
# testbench driving `rst` through VPI then reads X states). A second change of the register, one
# delta later, reaches every block. Synthesis and Verilator do not need it and do not see it.
_TIME_ZERO_KICK = re.compile(r"^(\s*)reg (\\\$auto\$verilog_backend\S+)\s+= 0;$", re.M)
_TIME_ZERO_REPLACEMENT = (
    "\\1reg \\2 = 0;\n"
    "`ifndef SYNTHESIS\n`ifndef VERILATOR\n"
    "\\1initial #0 \\2 = 1'b1;\n"
    "`endif\n`endif"
)

_ROLES = {
    "clk": "clock (rising edge)",
    "rst": "synchronous reset, active high; after release an init sweep loads the initial state",
    "inputs": "input-event stream: channel ids for the next step (accepted while idle)",
    "spikes": "output-event stream: neuron ids of this step's spikes, then an end-of-step marker",
    "start": "step control: high for one cycle while idle starts one time step",
    "idle": "step control: ready for start, inputs, state reads and writes",
    "done": "step control: one-cycle pulse when a step has ended",
    "step_count": "number of steps completed since reset",
    "read_request": "state read-out: request a neuron's membrane value (while idle)",
    "read_response": "state read-out: the requested membrane value",
    "write_request": "state load: overwrite a neuron's membrane value (while idle)",
    "synapse_load": "runtime weights: write one synapse-table word (synapses.hex) while idle",
}


def to_verilog(component, name: str, *, uninitialised: tuple[str, ...] = ()) -> str:
    """Verilog of an Amaranth component as snngen ships it: deterministic (no source paths),
    with the Verilator lint pragmas and the Icarus time-zero fix described above.

    Memories named in `uninitialised` lose their initial contents: Amaranth always writes
    zeros, and a memory with initial contents cannot become iCE40 SPRAM (runtime weights).
    """
    text = verilog.convert(component, name=name, emit_src=False, strip_internal_attrs=True)
    for memory_name in uninitialised:
        text = re.sub(rf"^ +{re.escape(memory_name)}\[\d+\] = \d+'h[0-9a-fA-F]+;\n", "", text,
                      flags=re.MULTILINE)
    return _LINT_HEADER + _TIME_ZERO_KICK.sub(_TIME_ZERO_REPLACEMENT, text)


def uninitialised_memories(plan: HardwarePlan) -> tuple[str, ...]:
    """The memories :func:`to_verilog` must leave uninitialised for `plan`."""
    if not plan.runtime_weights:
        return ()
    banks = max(plan.synapse_banks(g) for g in range(plan.groups))
    return ("synapse_memory", *(f"synapse_memory_bank{b}" for b in range(banks)))


def load_words_hex(plan: HardwarePlan) -> str:
    """The ``synapse_load`` words of `plan`, ``{data, address}`` in hex, one per line."""
    width = plan.load_address_width
    return "".join(f"{int(a) | int(d) << width:x}\n" for a, d in plan.synapse_load_words())


def top_name(name: str) -> str:
    """A Verilog module name from a design name: ``snn_`` + the name's identifier characters."""
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_") or "design"
    return f"snn_{cleaned}"


@dataclasses.dataclass(frozen=True)
class Design:
    """A generated design, in memory.

    Members
    -------
    name, top : str
    verilog, network_json, manifest_json, readme : str
        The four files' contents.
    synapses_hex : str or None
        With runtime weights: the words to load through ``synapse_load`` (``synapses.hex``).
    """

    name: str
    top: str
    verilog: str
    network_json: str
    manifest_json: str
    readme: str
    synapses_hex: str | None = None

    @property
    def files(self) -> dict[str, str]:
        files = {
            f"{self.top}.v": self.verilog,
            "network.json": self.network_json,
            "manifest.json": self.manifest_json,
            "README.md": self.readme,
        }
        if self.synapses_hex is not None:
            files["synapses.hex"] = self.synapses_hex
        return files


def _layout_fields(shape) -> list[dict] | None:
    if isinstance(shape, data.StructLayout):
        fields = []
        for field_name, field in shape:
            field_shape = Shape.cast(field.shape)
            fields.append({"name": field_name, "offset": field.offset, "width": field_shape.width,
                           "signed": field_shape.signed})
        return fields
    return None


def manifest_ports(core: SNNCore) -> list[dict]:
    """Every top-level Verilog port with direction, width and role, in a stable order."""
    ports = [
        {"name": "clk", "direction": "input", "width": 1, "role": _ROLES["clk"]},
        {"name": "rst", "direction": "input", "width": 1, "role": _ROLES["rst"]},
    ]
    for path, member, _value in core.signature.flatten(core):
        name = "__".join(str(part) for part in path)
        shape = member.shape
        entry = {
            "name": name,
            "direction": "input" if member.flow is wiring.In else "output",
            "width": Shape.cast(shape).width,
            "role": _ROLES[str(path[0])],
        }
        fields = _layout_fields(shape)
        if fields is not None:
            entry["fields"] = fields
        ports.append(entry)
    return ports


def _cycle_model(plan: HardwarePlan) -> dict:
    return {
        "upper_bound": "max(E, max_g S_g) + A + max(Ng, spikes) + W + T + C",
        "note": "the upper bound is the serial schedule; the core accumulates step t+1's spike "
                "events during step t's sweep, so a step usually takes less",
        "terms": {
            "E": "events of the step: previous step's spikes + this step's input spikes",
            "S_g": "synapses group g visits: sum over events of the event's fan-out into group g",
            "Ng": plan.slots,
            "spikes": "spikes of this step (the merger emits one per cycle)",
            "A": plan.accumulate_latency,
            "W": plan.sweep_latency,
            "T": plan.merge_stages,
            "C": HardwarePlan.STEP_OVERHEAD,
        },
        "lower_bound": "max(N/G, synaptic events/G)",
    }


def _readme(design_name: str, top: str, network: Network, plan: HardwarePlan) -> str:
    return f"""# {design_name}

Generated by snngen {__version__}: a bit-exact hardware implementation of `network.json`
({network.describe()}) on {plan.groups} neuron group(s) of {plan.slots} neuron(s).

| file | contents |
|---|---|
| `{top}.v` | the design, one Verilog file, top module `{top}` |
| `network.json` | the exact network this design implements |
| `manifest.json` | ports (direction, width, role, payload fields), parameters, cycle model, sha256 |

Simulate it bit-exactly against the golden model:

    python -m snngen verify network.json --steps 100 --groups {plan.groups} --sim amaranth

The interface protocol (step control, event streams, state read-out) is in snngen's
docs/architecture.md.
{_dp16kd_note(plan)}"""


def _dp16kd_note(plan: HardwarePlan) -> str:
    if plan.block_ram != "dp16kd":
        return ""
    return f"""
Synapse tables longer than one block RAM and the core's queues deeper than {SMALL_QUEUE_DEPTH}
entries are ECP5 `DP16KD` instances with their output register on (for Lattice ECP5 synthesis
only). A Verilog simulator needs a model of the primitive: snngen's is `sim/ecp5_dp16kd.v`
(`snngen.verify.cosim.dp16kd_model()` gives its path).
"""


def generate(network: Network, groups: int = 1, name: str = "design", *,
             runtime_weights: bool = False, bank_depth: int = 0,
             block_ram: str = "inferred", pack_bits: int = 0,
             spike_queue_depth: int = 0) -> Design:
    """Generate a design in memory (`runtime_weights`, `bank_depth`, `block_ram`, `pack_bits`,
    `spike_queue_depth`: see :func:`~snngen.hw.plan.plan_hardware`)."""
    plan = plan_hardware(network, groups, runtime_weights=runtime_weights,
                         bank_depth=bank_depth, block_ram=block_ram, pack_bits=pack_bits,
                         spike_queue_depth=spike_queue_depth)
    top = top_name(name)
    core = SNNCore(plan)
    text = to_verilog(core, top, uninitialised=uninitialised_memories(plan))
    network_json = network_to_json(network)
    manifest = {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "name": name,
        "top": top,
        "generator": {
            "snngen": __version__,
            "amaranth": metadata.version("amaranth"),
        },
        "verilog": {"file": f"{top}.v",
                    "sha256": hashlib.sha256(text.encode()).hexdigest()},
        "network": {"file": "network.json",
                    "sha256": hashlib.sha256(network_json.encode()).hexdigest()},
        "parameters": {
            **network.scalar_fields(),
            "synapses": network.synapses,
            **plan.describe(),
        },
        "ports": manifest_ports(core),
        "cycle_model": _cycle_model(plan),
    }
    return Design(
        name=name,
        top=top,
        verilog=text,
        network_json=network_json,
        manifest_json=json.dumps(manifest, indent=2) + "\n",
        readme=_readme(name, top, network, plan),
        synapses_hex=load_words_hex(plan) if runtime_weights else None,
    )


def build_design(network: Network, out_dir: str, groups: int = 1, name: str = "design", *,
                 runtime_weights: bool = False, block_ram: str = "inferred",
                 pack_bits: int = 0, spike_queue_depth: int = 0) -> Design:
    """Generate a design and write its files into `out_dir` (created if needed).

    With `runtime_weights` it also writes ``synapses.hex``: the words to load through the
    ``synapse_load`` port after reset (``{data, address}`` per line, address in the low bits).
    """
    design = generate(network, groups, name, runtime_weights=runtime_weights,
                      block_ram=block_ram, pack_bits=pack_bits,
                      spike_queue_depth=spike_queue_depth)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise InputError(f"--out must be a directory, not the file {out_dir!r}")
    os.makedirs(out_dir, exist_ok=True)
    for file_name, content in design.files.items():
        atomic_write_text(os.path.join(out_dir, file_name), content)
    return design
