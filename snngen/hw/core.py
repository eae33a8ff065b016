"""The top-level SNN core: groups, router, merger, queues and the step controller."""

from __future__ import annotations

from amaranth import Module, Signal, unsigned
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from .group import NeuronGroup, any_of, current_shape, spike_layout, state_shape
from .plan import HardwarePlan
from .queue import EventQueue, queue_dp16kd_mode
from .router import SpikeMerger, SpikeRouter, input_layout

__all__ = [
    "SNNCore",
    "output_layout",
    "read_request_layout",
    "read_response_layout",
    "reciprocal",
    "synapse_load_layout",
    "write_request_layout",
]

STEP_COUNT_WIDTH = 32
#: The most spikes the core's spike queue holds (one ECP5 DP16KD of 18-bit ids); a step with more
#: waits on it, nothing is lost.
SPIKE_QUEUE_DEPTH = 1024


def output_layout(plan: HardwarePlan) -> data.StructLayout:
    return data.StructLayout({"neuron": unsigned(plan.event_width), "end": unsigned(1)})


def read_request_layout(plan: HardwarePlan) -> data.StructLayout:
    return data.StructLayout({"neuron": unsigned(plan.neuron_id_width)})


def read_response_layout(plan: HardwarePlan) -> data.StructLayout:
    """The membrane value; with a synaptic current (semantics v2), the current above it."""
    current = current_shape(plan)
    if current is None:
        return data.StructLayout({"value": state_shape(plan)})
    return data.StructLayout({"value": state_shape(plan), "current": current})


def synapse_load_layout(plan: HardwarePlan) -> data.StructLayout:
    return data.StructLayout({"address": unsigned(plan.load_address_width),
                              "data": unsigned(plan.synapse_entry_width)})


def write_request_layout(plan: HardwarePlan) -> data.StructLayout:
    return data.StructLayout({"neuron": unsigned(plan.neuron_id_width),
                              "value": state_shape(plan)})


#: Cycles from a held host request's neuron id to its (slot, group): layer choice, quotient,
#: quotient × group count, remainder, each registered.
SPLIT_LATENCY = 4


def reciprocal(divisor: int, count: int) -> tuple[int, int]:
    """(multiplier, shift) with ``(x * multiplier) >> shift == x // divisor`` for 0 ≤ x < count.

    Division by a constant as one multiplication, checked exhaustively here at build time.
    """
    if divisor & (divisor - 1) == 0:
        return 1, divisor.bit_length() - 1
    shift = max(1, (count - 1).bit_length()) + divisor.bit_length()
    while True:
        multiplier = -(-(1 << shift) // divisor)
        if all((x * multiplier) >> shift == x // divisor for x in range(count)):
            return multiplier, shift
        shift += 1


class SNNCore(wiring.Component):
    """A complete integer-state SNN: one time step per ``start`` pulse, bit-exact with the golden model.

    A step runs three phases. **Accumulate**: the router delivers the previous step's spikes and
    this step's input events to the groups, which add each event's non-zero synapses into their
    accumulators (one synapse per cycle per group). **Sweep**: every group updates its Ng neurons,
    one per cycle, while the merger streams the new spikes to the output and into the spike queue
    for the next step. **End**: an end-of-step marker carrying the step's spike count.

    Cycles per step (docs/architecture.md): about
    ``max(E, max_g S_g) + max(Ng, spikes) + 23`` at most (the serial schedule,
    :meth:`~snngen.hw.plan.HardwarePlan.serial_step_cycles`), with E the events and S_g the
    synapses group g visits; less in practice, because the next step's spikes are accumulated
    during this step's sweep. Throughput: about one synapse per cycle per group.

    After reset, an init sweep (Ng + 7 cycles) loads every initial state and clears both
    accumulator buffers; ``idle`` rises when it is done.

    Parameters
    ----------
    plan : HardwarePlan
    checks : bool
        Add simulation assertions (see :class:`~snngen.hw.group.NeuronGroup`).

    Members
    -------
    inputs : In(stream.Signature(input_layout))
        Input channel ids for the next step; accepted only while ``idle`` (backpressure otherwise).
        Send each active channel once per step; ids ≥ K are ignored.
    spikes : Out(stream.Signature(output_layout))
        ``end = 0``: a neuron that spiked this step. ``end = 1``: the step is over, and ``neuron``
        holds its spike count. Backpressure stalls the core; nothing is dropped.
    start : In(1)
        Runs one step when high while ``idle``.
    idle : Out(1)
        Ready for ``start``, host reads and writes, and input events.
    done : Out(1)
        One-cycle pulse when a step ends (with the end marker accepted).
    step_count : Out(32)
        Steps completed since reset.
    read_request, read_response
        Read any neuron's membrane value while idle (answered 9 cycles after the request); 0
        for ids ≥ N. With a synaptic current (semantics v2) the response carries the neuron's
        current too.
    write_request
        Overwrite a neuron's membrane value while idle (e.g. to load a new initial state).
    synapse_load : In(stream.Signature(synapse_load_layout)), with ``plan.runtime_weights`` only
        Write one synapse-table word (:meth:`~snngen.hw.plan.HardwarePlan.synapse_load_words`):
        one per cycle while idle, once the background accumulation has drained. While ``valid``
        is high the core takes no input events, so a load never races a synapse fetch. Load
        every entry before the first step; reloading between steps changes the weights.
    """

    def __init__(self, plan: HardwarePlan, *, checks: bool = False):
        if not isinstance(plan, HardwarePlan):
            raise TypeError(f"plan must be a HardwarePlan, not {plan!r}")
        self._plan = plan
        load_port = {}
        if plan.runtime_weights:
            load_port = {"synapse_load": In(stream.Signature(synapse_load_layout(plan)))}
        super().__init__({
            **load_port,
            "inputs": In(stream.Signature(input_layout(plan))),
            "spikes": Out(stream.Signature(output_layout(plan))),
            "start": In(1),
            "idle": Out(1),
            "done": Out(1),
            "step_count": Out(STEP_COUNT_WIDTH),
            "read_request": In(stream.Signature(read_request_layout(plan))),
            "read_response": Out(stream.Signature(read_response_layout(plan))),
            "write_request": In(stream.Signature(write_request_layout(plan))),
        })
        self.groups = [NeuronGroup(plan, g, checks=checks) for g in range(plan.groups)]
        self.router = SpikeRouter(plan, checks=checks)
        self.merger = SpikeMerger(plan)

    @property
    def simulable(self) -> bool:
        """Whether Amaranth's simulator can run the core: no vendor block RAM instance in it
        (an ECP5 build of a small network, with one-bank tables, at most 64 sources and short
        core queues, has none)."""
        return (not self.router.mask_dp16kd
                and all(g.synapse_table.simulable and not g.pointer_dp16kd for g in self.groups)
                and all(queue_dp16kd_mode(width, depth, registered_output=True,
                                          block_ram=self._plan.block_ram) is None
                        for width, depth in self._core_queue_shapes()))

    def _core_queue_shapes(self) -> tuple[tuple[int, int], ...]:
        """(width, depth) of the input queue and of the spike queue."""
        plan = self._plan
        return ((plan.input_id_width, max(2, plan.network.inputs)),
                (spike_layout(plan).size, max(2, min(plan.network.neurons, SPIKE_QUEUE_DEPTH,
                                                     plan.spike_queue_depth or SPIKE_QUEUE_DEPTH))))

    @property
    def plan(self) -> HardwarePlan:
        return self._plan

    def elaborate(self, platform):
        plan = self._plan
        m = Module()
        for g, group in enumerate(self.groups):
            m.submodules[f"group{g}"] = group
        m.submodules.router = router = self.router
        m.submodules.merger = merger = self.merger

        # Queues: input events wait here until the step starts; spikes wait for the next step.
        # Both core queues register their block RAM's output: it feeds the skids below, far
        # across the chip, and was the slowest path once the synapse tables were banked.
        (input_width, input_depth), (spike_width, spike_depth) = self._core_queue_shapes()
        m.submodules.input_queue = input_queue = EventQueue(
            input_width, input_depth, registered_output=True, block_ram=plan.block_ram)
        # N in memory plus the read stage and the output register: room for every spike of a
        # step (the merger also waits on its ready, and the router drains the queue during the
        # sweep, so this is for throughput, not correctness). N, not more, and at most
        # SPIKE_QUEUE_DEPTH: 1,024 ids of up to 18 bits are one DP16KD with its output
        # register, and 1,025 were an inferred block RAM without it, the slowest path of a
        # 1,024-neuron core; a 9,000-neuron network's N would take nine. On an iCE40, at most
        # HardwarePlan.spike_queue_depth (one of its 4-kbit block RAMs).
        # With multi-spike neurons an entry is (neuron, count): one per neuron still.
        m.submodules.spike_queue = spike_queue = EventQueue(
            spike_width, spike_depth, registered_output=True, block_ram=plan.block_ram)

        for g, group in enumerate(self.groups):
            wiring.connect(m, router.groups[g], group.events)
            wiring.connect(m, group.spikes, merger.groups[g])
        # A two-entry register FIFO after the merger: the groups' queues are popped on the
        # merger's own state, not on the host's ready and the spike queue's fill level.
        m.submodules.output_skid = output_skid = fifo.SyncFIFO(width=spike_width, depth=2)
        m.d.comb += [
            output_skid.w_data.eq(merger.merged.payload.as_value() if plan.spike_count_width
                                  else merger.merged.payload.neuron),
            output_skid.w_en.eq(merger.merged.valid),
            merger.merged.ready.eq(output_skid.w_rdy),
        ]

        # Two-entry register FIFOs between the block-RAM queues and the router: the queues' read
        # enables then depend only on registers, not on the router's delivery logic (which was
        # the slowest path of the design).
        m.submodules.spike_skid = spike_skid = fifo.SyncFIFO(width=spike_width, depth=2)
        m.submodules.input_skid = input_skid = fifo.SyncFIFO(
            width=plan.input_id_width, depth=2)
        for queue, skid in ((spike_queue, spike_skid), (input_queue, input_skid)):
            m.d.comb += [
                skid.w_data.eq(queue.r.payload),
                skid.w_en.eq(queue.r.valid),
                queue.r.ready.eq(skid.w_rdy),
            ]
        m.d.comb += [
            router.spikes.payload.eq(spike_skid.r_data) if plan.spike_count_width
            else router.spikes.payload.neuron.eq(spike_skid.r_data),
            router.spikes.valid.eq(spike_skid.r_rdy),
            spike_skid.r_en.eq(router.spikes.ready),
            router.inputs.payload.channel.eq(input_skid.r_data),
            router.inputs.valid.eq(input_skid.r_rdy),
            input_skid.r_en.eq(router.inputs.ready),
        ]

        idle = Signal()
        m.d.comb += self.idle.eq(idle)
        # A synapse load waits for the background accumulation to drain; input events are held
        # off meanwhile so that no new synapse fetch can start.
        loading = Signal()
        if plan.runtime_weights:
            m.d.comb += loading.eq(self.synapse_load.valid)
        m.d.comb += [
            input_queue.w.payload.eq(self.inputs.payload.channel),
            input_queue.w.valid.eq(self.inputs.valid & idle & ~loading),
            self.inputs.ready.eq(input_queue.w.ready & idle & ~loading),
        ]

        copying = None
        if plan.spike_count_width:
            # A spike with a count of c leaves for the host as c copies of its id, from this
            # register; it entered the spike queue when it was loaded here, so the router
            # delivers it while the host still takes the copies.
            copying = Signal()
            copy_id = Signal(plan.neuron_id_width)
            copies_left = Signal(plan.spike_count_width)
        accumulating = Signal()
        sweeping = Signal()
        m.d.comb += [
            accumulating.eq(router.busy | input_queue.busy | spike_queue.busy
                            | (input_skid.level != 0) | (spike_skid.level != 0)
                            | any_of(g.accumulating for g in self.groups)),
            sweeping.eq(merger.busy | (output_skid.level != 0)
                        | any_of(g.sweeping for g in self.groups)
                        if copying is None else
                        merger.busy | (output_skid.level != 0) | copying
                        | any_of(g.sweeping for g in self.groups)),
        ]

        # Accumulator buffer of the current step; the next step's synapses go to the other one.
        # The router runs in every state but INIT: spikes of step t are delivered into buffer
        # ~parity during step t's own sweep, so most of step t+1's accumulation is done by the
        # time the host starts it. Input events are accepted only while idle, after the flip.
        parity = Signal()
        accumulate_into = Signal()
        m.d.comb += [g.sweep_buffer.eq(parity) for g in self.groups]
        m.d.comb += [g.accumulate_buffer.eq(accumulate_into) for g in self.groups]

        # The phase changes look at registered busy flags: the combinational ones sum FIFO levels
        # over every group and were the slowest path of the design. A registered flag is one
        # cycle old, so a waiting state first lets one cycle pass (`settled`); after that no new
        # work can appear by itself in that phase, and an idle flag of the previous cycle is
        # still true.
        accumulating_q = Signal()
        sweeping_q = Signal()
        settled = Signal()
        m.d.sync += [accumulating_q.eq(accumulating), sweeping_q.eq(sweeping), settled.eq(1)]

        # Semantics v2's delayed biases: completed steps, saturating once past every delay.
        if plan.bias_delay_width:
            steps_done = Signal(plan.bias_delay_width)
            m.d.comb += [g.steps_done.eq(steps_done) for g in self.groups]
        step_spikes = Signal(plan.event_width)
        # Counted a cycle later, off the output handshake's path; END is entered only after the
        # merger has been idle for a cycle, so the count is complete by then.
        transferred = Signal()
        with m.If(transferred):
            m.d.sync += step_spikes.eq(step_spikes + 1)
        with m.FSM(init="INIT"):
            with m.State("INIT"):
                m.d.comb += [g.init.eq(1) for g in self.groups]
                m.d.sync += settled.eq(0)
                m.next = "INIT-WAIT"
            with m.State("INIT-WAIT"):
                with m.If(settled & ~sweeping_q):
                    m.next = "IDLE"
            with m.State("IDLE"):
                m.d.comb += [idle.eq(1), router.enable.eq(1), accumulate_into.eq(parity)]
                with m.If(self.start):
                    m.d.sync += [step_spikes.eq(0), settled.eq(0), transferred.eq(0)]
                    m.next = "ACCUMULATE"
            with m.State("ACCUMULATE"):
                m.d.comb += [router.enable.eq(1), accumulate_into.eq(parity)]
                with m.If(settled & ~accumulating_q):
                    m.next = "SWEEP-START"
            with m.State("SWEEP-START"):
                m.d.comb += [g.sweep.eq(1) for g in self.groups]
                m.d.comb += [router.enable.eq(1), accumulate_into.eq(~parity)]
                m.d.sync += settled.eq(0)
                m.next = "SWEEP"
            with m.State("SWEEP"):
                # Each spike goes to the host and into the queue for the next step, together.
                m.d.comb += [router.enable.eq(1), accumulate_into.eq(~parity)]
                if plan.spike_count_width:
                    # A count of c reaches the host as c copies of the id (so every host reads
                    # one format), and the spike queue once, with its count.
                    head = data.View(spike_layout(plan), output_skid.r_data)
                    sent = Signal()
                    load = Signal()
                    m.d.comb += [
                        sent.eq(copying & self.spikes.ready),
                        load.eq(output_skid.r_rdy & spike_queue.w.ready
                                & (~copying | (sent & (copies_left == 1)))),
                        self.spikes.payload.neuron.eq(copy_id),
                        self.spikes.payload.end.eq(0),
                        self.spikes.valid.eq(copying),
                        output_skid.r_en.eq(load),
                        spike_queue.w.payload.eq(output_skid.r_data),
                        spike_queue.w.valid.eq(load),
                    ]
                    with m.If(load):
                        m.d.sync += [copying.eq(1), copy_id.eq(head.neuron),
                                     copies_left.eq(head.count)]
                    with m.Elif(sent):
                        m.d.sync += [copies_left.eq(copies_left - 1),
                                     copying.eq(copies_left != 1)]
                    m.d.sync += transferred.eq(sent)
                else:
                    m.d.comb += [
                        self.spikes.payload.neuron.eq(output_skid.r_data),
                        self.spikes.payload.end.eq(0),
                        self.spikes.valid.eq(output_skid.r_rdy & spike_queue.w.ready),
                        output_skid.r_en.eq(self.spikes.ready & spike_queue.w.ready),
                        spike_queue.w.payload.eq(output_skid.r_data),
                        spike_queue.w.valid.eq(output_skid.r_rdy & self.spikes.ready),
                    ]
                    m.d.sync += transferred.eq(output_skid.r_rdy & output_skid.r_en)
                with m.If(settled & ~sweeping_q):
                    m.next = "END"
            with m.State("END"):
                m.d.sync += transferred.eq(0)
                m.d.comb += [router.enable.eq(1), accumulate_into.eq(~parity)]
                m.d.comb += [
                    self.spikes.payload.neuron.eq(step_spikes),
                    self.spikes.payload.end.eq(1),
                    self.spikes.valid.eq(1),
                ]
                with m.If(self.spikes.ready):
                    m.d.comb += self.done.eq(1)
                    m.d.sync += [self.step_count.eq(self.step_count + 1), parity.eq(~parity)]
                    if plan.bias_delay_width:
                        with m.If(steps_done != (1 << plan.bias_delay_width) - 1):
                            m.d.sync += steps_done.eq(steps_done + 1)
                    m.next = "IDLE"

        self._elaborate_host_ports(m, idle)
        if plan.runtime_weights:
            self._elaborate_synapse_load(m, idle, accumulating_q)
        return m

    def _elaborate_synapse_load(self, m: Module, idle: Signal, accumulating_q: Signal) -> None:
        plan = self._plan
        load = self.synapse_load
        # `loading_before`: valid was already high in the previous cycle, so inputs were held
        # off then; with `accumulating_q` low nothing was in flight then either, and nothing can
        # start now.
        loading_before = Signal()
        m.d.sync += loading_before.eq(load.valid)
        m.d.comb += load.ready.eq(idle & loading_before & ~accumulating_q)
        width = plan.synapse_address_width
        group_index = load.payload.address[width:]
        # The groups take the word a cycle after it is accepted: the acceptance depends on the
        # core's state, and that path into every group's table address (the shared read and
        # write address of a single-port RAM) had set the clock at G = 32. A word written a
        # cycle later still meets no fetch: none can begin until an input event accepted after
        # the load has crossed the input queue, the router and the pointer pipeline.
        load_addr = Signal(width)
        load_data = Signal.like(load.payload.data)
        m.d.sync += [load_addr.eq(load.payload.address[:width]), load_data.eq(load.payload.data)]
        for g, group in enumerate(self.groups):
            load_selected = Signal(name=f"load_selected{g}")
            m.d.sync += load_selected.eq(load.valid & load.ready & (group_index == g))
            m.d.comb += [
                group.load_addr.eq(load_addr),
                group.load_data.eq(load_data),
                group.load_en.eq(load_selected),
            ]

    def _elaborate_host_ports(self, m: Module, idle: Signal) -> None:
        plan = self._plan
        n, groups = plan.network.neurons, plan.groups
        group_width = max(1, (groups - 1).bit_length())

        def split(neuron, name):
            """(slot, group) of a held neuron id, :data:`SPLIT_LATENCY` cycles after it is held:
            in its segment (layer), local id // and % the segment's group count, by a reciprocal
            multiply (no divider). A register after the segment's choice, after the quotient,
            after the quotient times the group count and after the remainder keeps each
            multiplier on a path of its own: two chained multipliers set the clock at G = 8,
            and the second multiplier with the subtraction after it at G = 32."""
            segment = Signal(range(len(plan.segments)), name=f"{name}_segment")
            local = Signal(plan.neuron_id_width, name=f"{name}_local")
            for index, (first, _end, _first_group, _count) in enumerate(plan.segments):
                with m.If(neuron >= first):
                    m.d.sync += [segment.eq(index), local.eq(neuron - first)]
            quotient_segment = Signal.like(segment, name=f"{name}_quotient_segment")
            quotient_local = Signal.like(local, name=f"{name}_quotient_local")
            quotient = Signal(plan.slot_width, name=f"{name}_quotient")
            m.d.sync += [quotient_segment.eq(segment), quotient_local.eq(local)]
            with m.Switch(segment):
                for index, (_first, _end, _first_group, count) in enumerate(plan.segments):
                    multiplier, shift = reciprocal(count, 1 << plan.neuron_id_width)
                    with m.Case(index):
                        m.d.sync += quotient.eq((local * multiplier) >> shift)
            # quotient × count ≤ local: it fits the local id's width.
            product = Signal.like(local, name=f"{name}_product")
            product_segment = Signal.like(segment, name=f"{name}_product_segment")
            product_local = Signal.like(local, name=f"{name}_product_local")
            product_quotient = Signal.like(quotient, name=f"{name}_product_quotient")
            m.d.sync += [product_segment.eq(quotient_segment), product_local.eq(quotient_local),
                         product_quotient.eq(quotient)]
            with m.Switch(quotient_segment):
                for index, (_first, _end, _first_group, count) in enumerate(plan.segments):
                    with m.Case(index):
                        m.d.sync += product.eq(quotient * count)
            slot = Signal(plan.slot_width, name=f"{name}_slot")
            group = Signal(group_width, name=f"{name}_group")
            m.d.sync += slot.eq(product_quotient)
            with m.Switch(product_segment):
                for index, (_first, _end, first_group, _count) in enumerate(plan.segments):
                    with m.Case(index):
                        m.d.sync += group.eq(first_group + (product_local - product))
            return slot, group

        def hold(port, release, name):
            """Take a request from `port` into a holding register at once; returns the held
            request and whether its (slot, group) from :func:`split` is ready. The request is
            let go in a cycle `release` is high. Host requests come one at a time (a UART round
            trip each), so one is held at most."""
            held = Signal(name=f"{name}_held")
            payload = Signal.like(port.payload, name=f"{name}_request")
            age = Signal(range(SPLIT_LATENCY + 1), name=f"{name}_age")
            m.d.comb += port.ready.eq(~held)
            with m.If(port.valid & port.ready):
                m.d.sync += [held.eq(1), payload.eq(port.payload), age.eq(0)]
            with m.Elif(held & (age != SPLIT_LATENCY)):
                m.d.sync += age.eq(age + 1)
            with m.If(release):
                m.d.sync += held.eq(0)
            return payload, held & (age == SPLIT_LATENCY)

        # The group's port is used in a cycle when the core is idle, as before.
        request, response = self.read_request, self.read_response
        issued = Signal()
        waiting = Signal()
        answered = Signal()
        waiting_group = Signal(range(groups))
        waiting_in_range = Signal()
        issue = Signal()
        held, ripe = hold(request, issue, "read")
        held_neuron = held.neuron
        slot, group_index = split(held_neuron, "read")
        m.d.comb += issue.eq(ripe & idle & ~issued & ~waiting & ~answered
                             & (~response.valid | response.ready))
        with m.If(issue):
            m.d.sync += [waiting_group.eq(group_index), waiting_in_range.eq(held_neuron < n)]
        # The groups' ports take registered requests, one cycle after the core decides them:
        # the decision depends on the core's state, and that path, crossing the chip to every
        # group's state memory, had set the clock. Reads and writes are delayed alike, so
        # their order is kept.
        read_slot = Signal(plan.slot_width)
        m.d.sync += read_slot.eq(slot)
        for g, group in enumerate(self.groups):
            read_selected = Signal(name=f"read_selected{g}")
            m.d.sync += read_selected.eq(issue & (group_index == g))
            m.d.comb += [group.read_addr.eq(read_slot), group.read_en.eq(read_selected)]
        # The group's state port answers two cycles after its request (its output is
        # registered in the group), three after the issue.
        m.d.sync += [issued.eq(issue), waiting.eq(issued), answered.eq(waiting)]
        with m.If(response.ready):
            m.d.sync += response.valid.eq(0)
        with m.If(answered):
            m.d.sync += response.valid.eq(1)
            m.d.sync += response.payload.eq(0)
            with m.If(waiting_in_range):
                with m.Switch(waiting_group):
                    for g, group in enumerate(self.groups):
                        with m.Case(g):
                            m.d.sync += response.payload.value.eq(group.read_data)
                            if current_shape(plan) is not None:
                                m.d.sync += response.payload.current.eq(group.read_current)

        write = self.write_request
        commit = Signal()
        write_held, write_ripe = hold(write, commit, "write")
        write_neuron, write_value = write_held.neuron, write_held.value
        write_slot, write_group = split(write_neuron, "write")
        m.d.comb += commit.eq(write_ripe & idle)
        committed_slot = Signal.like(write_slot)
        committed_value = Signal.like(write_value)
        m.d.sync += [committed_slot.eq(write_slot), committed_value.eq(write_value)]
        for g, group in enumerate(self.groups):
            write_selected = Signal(name=f"write_selected{g}")
            m.d.sync += write_selected.eq(commit & (write_group == g) & (write_neuron < n))
            m.d.comb += [
                group.write_addr.eq(committed_slot),
                group.write_data.eq(committed_value),
                group.write_en.eq(write_selected),
            ]
