"""snngen: a hardware generator for quantized, integer-state spiking neural networks.

The one contract is the integer semantics of docs/semantics.md; :mod:`snngen.model.golden` executes it.
"""

from .errors import InputError, InputTypeError
from .model.generate import random_network
from .model.golden import (
    BatchTrace,
    Orbit,
    Stepper,
    Trace,
    find_orbit,
    simulate,
    simulate_batch,
)
from .model.network import (
    Network,
    NeuronModel,
    Overflow,
    Representation,
    Reset,
    StateFormat,
    load_network,
    save_network,
)
from .model.stream import run_chunked

__version__ = "0.1.0"

__all__ = [
    "BatchTrace",
    "InputError",
    "InputTypeError",
    "Network",
    "NeuronModel",
    "Orbit",
    "Overflow",
    "Representation",
    "Reset",
    "StateFormat",
    "Stepper",
    "Trace",
    "__version__",
    "find_orbit",
    "load_network",
    "random_network",
    "run_chunked",
    "save_network",
    "simulate",
    "simulate_batch",
]
