"""The semantics-v2 neuron update as arithmetic: decay units, overflow, the update datapath.

:func:`v2_datapath` is the whole update of one neuron from its read values to the values written
back; the neuron group runs it as a pipeline (one adder, comparison, shifter or multiplier deep
per stage) and the formal proof (:mod:`snngen.verify.formal`) builds the very same expressions
without the registers, to prove them equal to a specification written from docs/semantics.md.
"""

from __future__ import annotations

from amaranth import Const, Module, Mux, Signal, Value, signed, unsigned

from ..model.network import (
    DECAY_UNITY,
    Compare,
    CurrentOrder,
    Decay,
    MembraneSum,
    Overflow,
    Reset,
    StateFormat,
)
from .plan import HardwarePlan

__all__ = ["Stages", "decay_product", "decay_result", "overflow", "v2_datapath"]


def overflow(value, fmt: StateFormat):
    """OVF of the lattice `fmt`, on an exact `value` (an expression wide enough for it)."""
    if fmt.overflow is Overflow.SATURATE:
        return Mux(value < fmt.min, fmt.min, Mux(value > fmt.max, fmt.max, value))
    # L + ((value − L) mod 2^B): the low B bits, offset by the lattice's lowest value.
    return (value - fmt.min)[:fmt.bits] + fmt.min


def decay_product(mode: Decay, x, parameter):
    """First stage of D(x): the shifted step ``x >> k`` (at least 1 toward zero for
    ``shift_min1``) or the product ``x·(4096 − d)``; `parameter` is k, or the factor 4096 − d.
    Returns None for ``none``."""
    if mode is Decay.NONE:
        return None
    if mode is Decay.MULTIPLY:
        return x * parameter
    step = x >> parameter
    if mode is Decay.SHIFT_MIN1:
        # Only a positive x can shift to 0 (the floor moves a negative x by at least 1).
        step = Mux((step == 0) & (x > 0), 1, step)
    return step


def decay_result(mode: Decay, x, product):
    """Second stage of D(x), from :func:`decay_product`'s `product`."""
    if mode is Decay.NONE:
        return x
    if mode is Decay.MULTIPLY:
        # sgn(p)·(|p| >> 12) is a floor division of p + 4095 for negative p: rounds toward zero.
        if not product.shape().signed:
            return product >> 12
        return (product + Mux(product < 0, DECAY_UNITY - 1, 0)) >> 12
    return x - product


class Stages:
    """Named values registered stage by stage; a value not recomputed is carried unchanged.

    Carried registers nobody reads are removed by synthesis, so carrying everything costs
    nothing there and keeps the pipeline description short. With ``registered=False`` a stage
    is only a name scope: the same arithmetic, combinational (the formal proof's unit).
    """

    def __init__(self, m: Module, registered: bool = True, **values):
        self._m = m
        self._registered = registered
        self.values = values
        self.valids: list = []

    def __getitem__(self, name: str):
        return self.values[name]

    def next(self, **computed) -> None:
        if not self._registered:
            # Each computed value becomes a wire: as a nested expression every later use would
            # copy it, and a stage that reads a value three times (a clamp) would triple
            # everything before it in the netlist.
            wires = {}
            for name, value in computed.items():
                value = Value.cast(value)
                wire = Signal(value.shape(), name=f"unit{len(self.valids) + 1}_{name}")
                self._m.d.comb += wire.eq(value)
                wires[name] = wire
            self.values = {**self.values, **wires}
            self.valids.append(self.values["valid"])
            return
        index = len(self.valids) + 1
        registered = {}
        for name, value in {**self.values, **computed}.items():
            value = Value.cast(value)
            register = Signal(value.shape(), name=f"update{index}_{name}")
            self._m.d.sync += register.eq(value)
            registered[name] = register
        self.values = registered
        self.valids.append(registered["valid"])


def v2_datapath(m: Module, plan: HardwarePlan, index: int, values: dict, constant: dict,
                stored: set, steps_done, *, registered: bool = True) -> dict:
    """The update of one neuron of group `index` (docs/semantics.md, "Semantics v2").

    Parameters
    ----------
    values : dict
        The read values: ``valid``, ``init``, ``slot``, ``id``, ``v``, ``acc`` (the step's
        synaptic sum; with ordered events instead ``inputs_total``, ``inputs_low``,
        ``inputs_high`` and the same for ``spikes``: :func:`~snngen.hw.plan.compose_saturating_add`), ``initial_v``, ``bias``, and where present ``i`` (the current), ``r``
        (the refractory counter), ``theta`` (per-slot thresholds) and every stored parameter.
    constant : dict
        The parameters the group's neurons share (a decay's k or factor 4096 − d, …).
    stored : set of str
        The names of the parameters read per slot (in `values`).
    steps_done : Value or None
        Completed steps (saturating), with delayed biases.
    registered : bool
        A pipeline (the neuron group) or the same arithmetic combinationally (the proof).

    Returns
    -------
    dict
        ``v``, ``i`` and ``r`` to write back, ``fire``, ``count`` (the spike count, ``fire``
        itself when no neuron spikes more than once), and ``stages`` (the :class:`Stages`,
        whose ``valids`` and final ``values`` carry the slot and neuron id).
    """
    net = plan.network
    dynamics = net.dynamics
    current = dynamics.current
    def param(name, default=0):
        if name in stored:
            return pipe[name]
        return constant.get(name, default)

    pipe = Stages(m, registered, **values)
    pipe.next()  # the block-RAM outputs, registered before any arithmetic
    decay_current_first = current is not None and current.order is CurrentOrder.DECAY_THEN_ADD
    membrane_decay = dynamics.membrane_decay
    products = {"v_product": decay_product(membrane_decay, pipe["v"], param("membrane_decay"))}
    if decay_current_first:
        products["i_product"] = decay_product(current.decay, pipe["i"], param("current_decay"))
    if plan.bias_delay_width:
        # Steps 1..bias_delay run without the biases; `steps_done` is t − 1 during step t
        # (saturating above the largest delay).
        biased = steps_done >= param("bias_delay")
        products["bias"] = Mux(biased, pipe["bias"], 0)
    else:
        biased = 1
    has_current_bias = "current_bias" in constant or "current_bias" in stored
    if plan.ordered_events:
        # Per-event saturation: the bias is its own saturating add before the events', whose
        # compositions (total, low, high) become the bounds [L + low, H − high] here.
        fmt = current.state
        products["current_bias_now"] = Mux(biased, param("current_bias"), 0) \
            if has_current_bias else 0
        for kind in ("inputs", "spikes"):
            products[f"{kind}_low"] = fmt.min + pipe[f"{kind}_low"]
            products[f"{kind}_high"] = fmt.max - pipe[f"{kind}_high"]
    elif has_current_bias:
        # The current's bias joins the synaptic sum here, beside the decays' first stage.
        products["acc"] = pipe["acc"] + Mux(biased, param("current_bias"), 0)
    pipe.next(**{k: v for k, v in products.items() if v is not None})
    results = {"u": decay_result(membrane_decay, pipe["v"], pipe.values.get("v_product"))}
    if decay_current_first:
        results["i_start"] = decay_result(current.decay, pipe["i"], pipe.values.get("i_product"))
    elif current is not None:
        results["i_start"] = pipe["i"]
    pipe.next(**results)
    if current is not None:
        fmt = current.state
        if plan.ordered_events:
            pipe.next(i_biased=pipe["i_start"] + pipe["current_bias_now"])
            pipe.next(i_ordered=overflow(pipe["i_biased"], fmt))
            for kind in ("inputs", "spikes"):
                pipe.next(i_sum=pipe["i_ordered"] + pipe[f"{kind}_total"])
                low, high = pipe[f"{kind}_low"], pipe[f"{kind}_high"]
                pipe.next(i_ordered=Mux(pipe["i_sum"] < low, low,
                                        Mux(pipe["i_sum"] > high, high, pipe["i_sum"])))
            pipe.values["i_sat"] = pipe["i_ordered"]
        else:
            pipe.next(i_sum=pipe["i_start"] + pipe["acc"])
            pipe.next(i_sat=overflow(pipe["i_sum"], fmt))
        if current.order is CurrentOrder.ADD_THEN_DECAY:
            product = decay_product(current.decay, pipe["i_sat"], param("current_decay"))
            pipe.next(**({} if product is None else {"i_product": product}))
            pipe.next(i_new=decay_result(current.decay, pipe["i_sat"],
                                         pipe.values.get("i_product")))
        else:
            pipe.values["i_new"] = pipe["i_sat"]
        drive = "i_new"
    else:
        drive = "acc"
    membrane = net.state
    if dynamics.membrane_sum is MembraneSum.STAGED:
        # Xylo: the change saturates, then the change plus bias, then v plus the change.
        pipe.next(delta=overflow(pipe["u"] - pipe["v"] + pipe[drive], membrane))
        pipe.next(delta_b=overflow(pipe["delta"] + pipe["bias"], membrane))
        pipe.next(v_new=overflow(pipe["v"] + pipe["delta_b"], membrane))
    else:
        pipe.next(total=pipe["u"] + pipe[drive])
        pipe.next(total_b=pipe["total"] + pipe["bias"])
        pipe.next(v_new=overflow(pipe["total_b"], membrane))
    threshold = pipe["theta"] if plan.per_slot_thresholds \
        else plan.group_plans[index].threshold
    above = pipe["v_new"] >= threshold if dynamics.compare is Compare.GE \
        else pipe["v_new"] > threshold
    fire = above & ~pipe["init"]
    if plan.refractory_width:
        fire = fire & (pipe["r"] == 0)
    threshold_of = (lambda: pipe["theta"]) if plan.per_slot_thresholds \
        else (lambda: plan.group_plans[index].threshold)
    if plan.max_spikes > 1:
        # n = min(M, ⌊r/θ⌋) with r = v' (≥) or v' − 1 (>): as many subtractions as the
        # repeated ones of the semantics. A restoring division gives the quotient's Q bits,
        # where 2^Q > M; r ≥ θ·2^Q means the limit anyway.
        quotient_bits = plan.max_spikes.bit_length()
        dividend = pipe["v_new"] if dynamics.compare is Compare.GE else pipe["v_new"] - 1
        pipe.next(fire=fire, remainder=dividend, quotient=Const(0, quotient_bits),
                  beyond=dividend >= (threshold_of() << quotient_bits))
        for bit in reversed(range(quotient_bits)):
            step = threshold_of() << bit
            take = pipe["remainder"] >= step
            pipe.next(remainder=Mux(take, pipe["remainder"] - step, pipe["remainder"]),
                      quotient=pipe["quotient"] | (take << bit))
        limit = param("max_spikes", plan.max_spikes)
        count = Mux(pipe["beyond"] | (pipe["quotient"] > limit), limit, pipe["quotient"])
        pipe.next(count=Mux(pipe["fire"], count, 0))
        pipe.next(taken=pipe["count"] * threshold_of())
        subtracted = pipe["v_new"] - pipe["taken"]
        spike_count = pipe["count"]
    else:
        pipe.next(fire=fire)
        subtracted = pipe["v_new"] - threshold_of()
        spike_count = pipe["fire"]
    frozen = pipe["r"] != 0 if plan.refractory_width else Const(0, 1)

    after_reset = Signal(signed(plan.state_width) if plan.state_signed
                         else unsigned(plan.state_width))
    fired = pipe["fire"]
    reset = net.neuron.reset
    if reset is Reset.ZERO:
        fired_value = net.neuron.reset_value
    elif reset is Reset.SUBTRACT:
        fired_value = subtracted
    else:
        fired_value = pipe["v_new"]
    with m.If(pipe["init"]):
        m.d.comb += after_reset.eq(pipe["initial_v"])
    with m.Elif(fired):
        m.d.comb += after_reset.eq(fired_value)
    with m.Elif(frozen):
        m.d.comb += after_reset.eq(pipe["v"])
    with m.Else():
        m.d.comb += after_reset.eq(pipe["v_new"])
    i_out = r_out = None
    if current is not None:
        i_out = Mux(pipe["init"], param("current_initial"), pipe["i_new"])
    if plan.refractory_width:
        counter = pipe["r"]
        r_out = Mux(pipe["init"], 0,
                    Mux(fired, param("refractory"), Mux(counter != 0, counter - 1, 0)))
    return {"v": after_reset, "i": i_out, "r": r_out, "fire": fired, "count": spike_count,
            "stages": pipe}
