"""The board's host link: frames from the UART in, commands on the SNN core, frames back out."""

import math

from amaranth import Array, Cat, Const, Module, Mux, ResetInserter, Signal, Value
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from ..hw.core import SNNCore
from ..hw.plan import HardwarePlan
from .protocol import (
    INLINE_ENTRIES,
    MAX_FETCH,
    MAX_PAYLOAD,
    NAK,
    PROTOCOL_VERSION,
    STEP_HEADER_BYTES,
    SYNC,
    NakCode,
    Request,
    Response,
    crc32c_update,
)
from .uart import UARTReceiver, UARTTransmitter

__all__ = ["DEFAULT_GAP_SECONDS", "BoardCore", "crc32c_next", "gap_bits", "hello_payload"]

VALUE_BYTES = 4
# A frame may pause this long between two bytes before the board abandons it: more than the
# 50 ms a USB-serial adapter or a busy host can hold a byte back.
DEFAULT_GAP_SECONDS = 0.065
CRC_INIT = 0xFFFFFFFF


def gap_bits(baud: int, seconds: float = DEFAULT_GAP_SECONDS) -> int:
    """Bit times in `seconds` at `baud`: the board's inter-byte gap limit."""
    return math.ceil(seconds * baud)


def crc32c_next(crc: Value, byte: Value) -> Value:
    """The CRC-32C register `crc` extended by `byte`, as one combinational expression.

    The byte update is linear over GF(2) in (crc, byte): each output bit is the XOR of the input
    bits whose unit vector sets it (taken from the host's :func:`~.protocol.crc32c_update`), a
    small XOR tree per bit instead of eight unrolled shift steps.
    """
    bits = []
    for out_bit in range(32):
        terms = [crc[j] for j in range(32) if crc32c_update(1 << j, 0) >> out_bit & 1]
        terms += [byte[j] for j in range(8) if crc32c_update(0, 1 << j) >> out_bit & 1]
        term = terms[0]
        for other in terms[1:]:
            term = term ^ other
        bits.append(term)
    return Cat(*bits)


def load_word_bytes(plan: HardwarePlan) -> int:
    return -(-(plan.load_address_width + plan.synapse_entry_width) // 8)


def hello_payload(plan: HardwarePlan) -> bytes:
    """What HELLO answers: identification and every width the host needs."""
    net = plan.network
    flags = int(net.state.signed) | int(plan.runtime_weights) << 1
    return bytes([ord("S"), ord("N"), ord("N"), PROTOCOL_VERSION,
                  net.neurons & 0xFF, net.neurons >> 8, net.inputs & 0xFF, net.inputs >> 8,
                  net.state.bits, flags, plan.groups & 0xFF, plan.groups >> 8,
                  load_word_bytes(plan) if plan.runtime_weights else 0, VALUE_BYTES,
                  plan.max_spikes])


spike_entry_layout = data.StructLayout({"neuron": 16, "count": 8})


class BoardCore(wiring.Component):
    """The SNN core behind a UART host link: everything of a board top but its pins and clock.

    The link answers the requests of docs/host-protocol.md one at a time: it receives a frame
    (checking its length byte against its complement and its CRC-32C; a bad frame gets a NAK and
    nothing else happens), runs the command on the core, and sends one response frame. The
    last request's (seq, type) is kept: a retransmitted INPUTS or STEP is answered again
    without being run twice. A step's spikes are kept in a buffer of N entries (neuron, count)
    until the next step, so a lost answer can be sent again and FETCH can read the entries a
    STEP answer has no room for. Output spikes wait in the core while the buffer is written
    (backpressure), so none is lost however slow the line.

    Latency and throughput are the UART's: 10 bit times per byte; a step with E spiking
    neurons costs about ``2·K_step + 3·E + 26`` byte times on the line (K_step input ids) plus
    the core's own cycles.

    Parameters
    ----------
    plan : HardwarePlan
    divisor : int
        Clock cycles per UART bit (clock / baud).
    gap_bits : int
        Bit times of silence after which a partly received frame is abandoned (the next SYNC
        byte starts a new one); :func:`gap_bits` gives 65 ms at a baud rate.

    Members
    -------
    rx : In(1)
        UART receive line (from the host).
    tx : Out(1)
        UART transmit line (to the host).
    leds : Out(3)
        Activity: bit 0 toggles at every step, bit 1 lights while a request runs, bit 2 latches a
        protocol error (CRC, unknown request) until the next good frame.
    """

    rx: In(1, init=1)
    tx: Out(1, init=1)
    leds: Out(3)

    def __init__(self, plan: HardwarePlan, divisor: int, gap_bits: int = 7_500):
        if not isinstance(plan, HardwarePlan):
            raise TypeError(f"plan must be a HardwarePlan, not {plan!r}")
        if isinstance(gap_bits, bool) or not isinstance(gap_bits, int) or gap_bits < 30:
            raise ValueError(f"gap_bits must be an integer of at least 30 bit times, "
                             f"not {gap_bits!r}")
        if plan.network.neurons * plan.max_spikes > 0xFFFF:
            raise ValueError(f"the host link counts at most 65535 spikes per step, not "
                             f"{plan.network.neurons} neurons x {plan.max_spikes} spikes")
        self._plan = plan
        self._divisor = divisor
        self._gap_bits = gap_bits
        self.receiver = UARTReceiver(divisor)
        self.transmitter = UARTTransmitter(divisor)
        super().__init__()

    def elaborate(self, platform):
        plan = self._plan
        m = Module()
        core_reset = Signal()
        core = SNNCore(plan)
        m.submodules.core = ResetInserter(core_reset)(core)
        m.submodules.receiver = receiver = self.receiver
        m.submodules.transmitter = transmitter = self.transmitter
        m.d.comb += [receiver.rx.eq(self.rx), self.tx.eq(transmitter.tx)]

        m.submodules.rx_buffer = rx_buffer = memory.Memory(shape=8, depth=256, init=[])
        m.submodules.tx_buffer = tx_buffer = memory.Memory(shape=8, depth=256, init=[])
        rx_write = rx_buffer.write_port()
        rx_read = rx_buffer.read_port(transparent_for=(rx_write,))
        tx_write = tx_buffer.write_port()
        tx_read = tx_buffer.read_port(transparent_for=(tx_write,))
        # The last step's spikes, (neuron, count) per spiking neuron.
        m.submodules.spike_buffer = spike_buffer = memory.Memory(
            shape=spike_entry_layout, depth=max(2, plan.network.neurons), init=[])
        spike_write = spike_buffer.write_port()
        # Written only while a step runs, read only after it: no transparency needed (and a
        # transparent port keeps yosys from using block RAM for it).
        spike_read = spike_buffer.read_port()

        # ---- frame receiver: SYNC type seq len ~len payload crc[4] ---------------------------
        request_type = Signal(8)
        request_seq = Signal(8)
        request_length = Signal(8)
        received = Signal(8)
        rx_crc = Signal(32, init=CRC_INIT)
        rx_check = Signal(32)       # the frame's CRC bytes, shifted in
        frame_ready = Signal()      # a whole frame is in: the executor owns it until `release`
        frame_good = Signal()
        release = Signal()
        silence_limit = self._divisor * self._gap_bits
        silence = Signal(range(silence_limit + 1))
        byte = receiver.bytes
        took = Signal()
        m.d.comb += [byte.ready.eq(~frame_ready), took.eq(byte.valid & byte.ready)]
        with m.If(release):
            m.d.sync += frame_ready.eq(0)

        def header_byte(target, following):
            m.d.sync += silence.eq(silence + 1)
            with m.If(took):
                m.d.sync += [target.eq(byte.payload), silence.eq(0),
                             rx_crc.eq(crc32c_next(rx_crc, byte.payload))]
                m.next = following
            with m.Elif(silence == silence_limit):
                m.next = "SYNC"

        def resync():
            # A header that fails its check may hold the next frame's SYNC byte.
            with m.If(byte.payload == SYNC):
                m.d.sync += [rx_crc.eq(CRC_INIT), silence.eq(0)]
                m.next = "TYPE"
            with m.Else():
                m.next = "SYNC"

        with m.FSM(name="receive"):
            with m.State("SYNC"):
                with m.If(took & (byte.payload == SYNC)):
                    m.d.sync += [rx_crc.eq(CRC_INIT), silence.eq(0)]
                    m.next = "TYPE"
            with m.State("TYPE"):
                header_byte(request_type, "SEQ")
            with m.State("SEQ"):
                header_byte(request_seq, "LENGTH")
            with m.State("LENGTH"):
                header_byte(request_length, "CHECK")
                with m.If(took & (byte.payload > MAX_PAYLOAD)):
                    resync()
            with m.State("CHECK"):
                m.d.sync += silence.eq(silence + 1)
                with m.If(took):
                    m.d.sync += [received.eq(0), silence.eq(0),
                                 rx_crc.eq(crc32c_next(rx_crc, byte.payload))]
                    with m.If(byte.payload != (request_length ^ 0xFF)):
                        resync()
                    with m.Elif(request_length == 0):
                        m.next = "CRC0"
                    with m.Else():
                        m.next = "PAYLOAD"
                with m.Elif(silence == silence_limit):
                    m.next = "SYNC"
            with m.State("PAYLOAD"):
                m.d.sync += silence.eq(silence + 1)
                m.d.comb += [rx_write.addr.eq(received), rx_write.data.eq(byte.payload)]
                with m.If(took):
                    m.d.comb += rx_write.en.eq(1)
                    m.d.sync += [received.eq(received + 1), silence.eq(0),
                                 rx_crc.eq(crc32c_next(rx_crc, byte.payload))]
                    with m.If(received + 1 == request_length):
                        m.next = "CRC0"
                with m.Elif(silence == silence_limit):
                    m.next = "SYNC"
            for i in range(4):
                with m.State(f"CRC{i}"):
                    m.d.sync += silence.eq(silence + 1)
                    with m.If(took):
                        m.d.sync += [rx_check.eq(Cat(rx_check[8:], byte.payload)),
                                     silence.eq(0)]
                        if i < 3:
                            m.next = f"CRC{i + 1}"
                        else:
                            m.d.sync += [
                                frame_ready.eq(1),
                                frame_good.eq(Cat(rx_check[8:], byte.payload) == ~rx_crc)]
                            m.next = "SYNC"
                    with m.Elif(silence == silence_limit):
                        m.next = "SYNC"

        # ---- frame sender: SYNC type seq len ~len tx_buffer[0..len) crc[4] --------------------
        send = Signal()             # pulse: send a frame of `send_type`, `send_length`
        sending = Signal()
        send_type = Signal(8)
        send_length = Signal(8)
        sent = Signal(8)
        tx_crc = Signal(32)
        out = transmitter.bytes
        with m.FSM(name="send"):
            with m.State("IDLE"):
                with m.If(send):
                    m.d.sync += [sending.eq(1), tx_crc.eq(CRC_INIT)]
                    m.next = "SYNC"
            steps = (("SYNC", Const(SYNC, 8), "TYPE", False), ("TYPE", send_type, "SEQ", True),
                     ("SEQ", request_seq, "LENGTH", True), ("LENGTH", send_length, "CHECK", True))
            for state, value, following, counted in steps:
                with m.State(state):
                    m.d.comb += [out.payload.eq(value), out.valid.eq(1)]
                    with m.If(out.ready):
                        if counted:
                            m.d.sync += tx_crc.eq(crc32c_next(tx_crc, value))
                        m.next = following
            with m.State("CHECK"):
                check = send_length ^ 0xFF
                m.d.comb += [out.payload.eq(check), out.valid.eq(1),
                             tx_read.addr.eq(0), tx_read.en.eq(1)]
                with m.If(out.ready):
                    m.d.sync += [tx_crc.eq(crc32c_next(tx_crc, check)), sent.eq(0)]
                    m.next = "PAYLOAD"
                    with m.If(send_length == 0):
                        m.next = "CRC0"
            with m.State("PAYLOAD"):
                # tx_read.data holds byte `sent` (read a cycle ahead, held while waiting).
                m.d.comb += [out.payload.eq(tx_read.data), out.valid.eq(1),
                             tx_read.addr.eq(sent + 1), tx_read.en.eq(out.ready)]
                with m.If(out.ready):
                    m.d.sync += [tx_crc.eq(crc32c_next(tx_crc, tx_read.data)), sent.eq(sent + 1)]
                    with m.If(sent + 1 == send_length):
                        m.next = "CRC0"
            final_crc = ~tx_crc
            for i in range(4):
                with m.State(f"CRC{i}"):
                    m.d.comb += [out.payload.eq(final_crc[8 * i:8 * i + 8]), out.valid.eq(1)]
                    with m.If(out.ready):
                        if i < 3:
                            m.next = f"CRC{i + 1}"
                        else:
                            m.d.sync += sending.eq(0)
                            m.next = "IDLE"

        # ---- executor -------------------------------------------------------------------------
        net = plan.network
        hello = Array(Const(b, 8) for b in hello_payload(plan))
        index = Signal(16)          # payload byte / item being processed
        count = Signal(16)          # items left (reads)
        length = Signal(8)          # bytes appended to tx_buffer
        word = Signal(16)
        neuron = Signal(16)
        m.d.comb += [tx_write.addr.eq(length)]

        def append(value):
            m.d.comb += [tx_write.data.eq(value), tx_write.en.eq(1)]
            m.d.sync += length.eq(length + 1)

        def respond(kind):
            # The frame is sent from tx_buffer: wait until it is out before the next request.
            m.d.comb += send.eq(1)
            m.d.sync += [send_type.eq(kind), send_length.eq(length)]
            m.next = "SENDING"

        busy_led = Signal()
        error_led = Signal()
        step_led = Signal()
        m.d.comb += self.leds.eq(Cat(step_led, busy_led, error_led))
        value_bits = net.state.bits
        read_value = Signal(32)

        # A retransmitted request (same seq and type as the last one run) is answered again
        # without running it again: only INPUTS and STEP change state.
        last_seq = Signal(8)
        last_type = Signal(8)
        repeated = Signal()
        m.d.comb += repeated.eq((request_seq == last_seq) & (request_type == last_type))
        stepping = Signal()         # INPUTS-READ belongs to a STEP request
        step_repeated = Signal()    # this STEP is a retransmission of the last request
        entries = Signal(16)        # spike entries of the last step
        step_spikes = Signal(16)    # its spike count (entries weighted by their counts)
        run_count = Signal(8)       # spikes of the entry being written
        cursor = Signal(16)         # the next spike entry to send
        remaining = Signal(16)      # spike entries still to append
        reply_kind = Signal(8)
        inline_limit = Signal(8)    # entries a STEP answer may hold (the request's first byte)
        step_header = Cat(core.step_count, entries, step_spikes)

        with m.FSM(name="execute"):
            with m.State("WAIT"):
                m.d.sync += [length.eq(0), index.eq(0)]
                with m.If(frame_ready):
                    m.d.sync += busy_led.eq(1)
                    with m.If(~frame_good):
                        m.d.sync += error_led.eq(1)
                        m.next = "NAK-CRC"
                    with m.Else():
                        m.d.sync += [error_led.eq(0), last_seq.eq(request_seq),
                                     last_type.eq(request_type)]
                        with m.Switch(request_type):
                            with m.Case(Request.HELLO):
                                m.next = "HELLO"
                            with m.Case(Request.INPUTS):
                                m.d.sync += stepping.eq(0)
                                with m.If(request_length[0]):
                                    m.next = "NAK-ARGUMENT"
                                with m.Elif(repeated):
                                    m.next = "INPUTS-SEND"
                                with m.Else():
                                    m.next = "INPUTS-READ"
                            with m.Case(Request.STEP):
                                # Its first byte caps the entries of the answer; the input ids
                                # follow. A retransmission may lower the cap.
                                m.d.sync += [stepping.eq(1), index.eq(1),
                                             step_repeated.eq(repeated)]
                                with m.If(~request_length[0]):
                                    m.next = "NAK-ARGUMENT"
                                with m.Else():
                                    m.d.comb += [rx_read.addr.eq(0), rx_read.en.eq(1)]
                                    m.next = "STEP-LIMIT"
                            with m.Case(Request.READ, Request.FETCH):
                                with m.If(request_length != 3):
                                    m.next = "NAK-ARGUMENT"
                                with m.Else():
                                    m.next = "ARGUMENT"
                            with m.Case(Request.RESET):
                                m.next = "RESET"
                            with m.Case(Request.LOAD):
                                if plan.runtime_weights:
                                    m.next = "LOAD-READ"
                                else:
                                    m.next = "NAK-ARGUMENT"
                            with m.Default():
                                m.next = "NAK-UNKNOWN"

            for state, code in (("NAK-CRC", NakCode.CRC), ("NAK-UNKNOWN", NakCode.UNKNOWN),
                                ("NAK-ARGUMENT", NakCode.ARGUMENT)):
                with m.State(state):
                    m.d.sync += error_led.eq(1)
                    with m.If(index == 0):
                        append(code)
                        m.d.sync += index.eq(1)
                    with m.Else():
                        append(request_type)
                        m.next = f"{state}-SEND"
                with m.State(f"{state}-SEND"):
                    respond(NAK)

            with m.State("HELLO"):
                append(hello[index[:4]])
                m.d.sync += index.eq(index + 1)
                with m.If(index == len(hello) - 1):
                    m.next = "HELLO-SEND"
            with m.State("HELLO-SEND"):
                respond(Response.HELLO)

            # Payload bytes come from rx_buffer, one per cycle after its address (`index`).
            with m.State("INPUTS-READ"):
                with m.If(index == request_length):
                    with m.If(stepping):
                        m.next = "STEP-START"
                    with m.Else():
                        m.next = "INPUTS-SEND"
                with m.Else():
                    m.d.comb += [rx_read.addr.eq(index), rx_read.en.eq(1)]
                    m.next = "INPUTS-LOW"
            with m.State("INPUTS-LOW"):
                m.d.sync += word[:8].eq(rx_read.data)
                m.d.comb += [rx_read.addr.eq(index + 1), rx_read.en.eq(1)]
                m.next = "INPUTS-HIGH"
            with m.State("INPUTS-HIGH"):
                m.d.sync += word[8:16].eq(rx_read.data)
                m.next = "INPUTS-PUSH"
            with m.State("INPUTS-PUSH"):
                m.d.comb += [core.inputs.payload.channel.eq(word[:16]), core.inputs.valid.eq(1)]
                with m.If(core.inputs.ready | (word[:16] >= net.inputs)):
                    # Ids ≥ K would be truncated to the core's id width: skip them here.
                    m.d.comb += core.inputs.valid.eq(word[:16] < net.inputs)
                    m.d.sync += index.eq(index + 2)
                    m.next = "INPUTS-READ"
            with m.State("INPUTS-SEND"):
                respond(Response.INPUTS)

            # A step: run it, keep its spikes in spike_buffer, answer with its header and as
            # many entries as fit.
            with m.State("STEP-LIMIT"):
                m.d.sync += inline_limit.eq(Mux(rx_read.data > INLINE_ENTRIES, INLINE_ENTRIES,
                                                rx_read.data))
                with m.If(step_repeated):
                    m.d.sync += index.eq(0)
                    m.next = "STEP-REPLY"
                with m.Else():
                    m.next = "INPUTS-READ"
            with m.State("STEP-START"):
                with m.If(core.idle & ~sending):
                    m.d.comb += core.start.eq(1)
                    m.d.sync += [step_led.eq(~step_led), entries.eq(0)]
                    m.next = "STEP-COLLECT"
            with m.State("STEP-COLLECT"):
                spikes = core.spikes
                m.d.comb += spikes.ready.eq(1)
                # A neuron with c spikes arrives as c copies in a row: one entry, counted.
                again = (entries != 0) & (spikes.payload.neuron == neuron)
                m.d.comb += [spike_write.data.neuron.eq(spikes.payload.neuron),
                             spike_write.data.count.eq(Mux(again, run_count + 1, 1)),
                             spike_write.addr.eq(Mux(again, entries - 1, entries))]
                with m.If(spikes.valid & spikes.payload.end):
                    m.d.sync += [step_spikes.eq(spikes.payload.neuron), index.eq(0)]
                    m.next = "STEP-REPLY"
                with m.Elif(spikes.valid):
                    m.d.comb += spike_write.en.eq(1)
                    m.d.sync += [neuron.eq(spikes.payload.neuron),
                                 run_count.eq(Mux(again, run_count + 1, 1))]
                    with m.If(~again):
                        m.d.sync += entries.eq(entries + 1)
            with m.State("STEP-REPLY"):
                append(step_header.word_select(index[:3], 8))
                m.d.sync += index.eq(index + 1)
                with m.If(index == STEP_HEADER_BYTES - 1):
                    m.d.sync += [cursor.eq(0), reply_kind.eq(Response.STEP),
                                 remaining.eq(Mux(entries > inline_limit, inline_limit,
                                                  entries))]
                    m.next = "ENTRIES"

            # READ and FETCH: first (2 B), count (1 B).
            with m.State("ARGUMENT"):
                m.d.comb += [rx_read.addr.eq(0), rx_read.en.eq(1)]
                m.next = "ARGUMENT-0"
            for i, target in enumerate((neuron[:8], neuron[8:], count[:8])):
                with m.State(f"ARGUMENT-{i}"):
                    m.d.sync += target.eq(rx_read.data)
                    if i < 2:
                        m.d.comb += [rx_read.addr.eq(i + 1), rx_read.en.eq(1)]
                        m.next = f"ARGUMENT-{i + 1}"
                    else:
                        m.d.sync += count[8:].eq(0)
                        m.next = "ARGUMENT-CHECK"
            with m.State("ARGUMENT-CHECK"):
                with m.If(request_type == Request.FETCH):
                    with m.If((count == 0) | (count > MAX_FETCH) | (neuron + count > entries)):
                        m.next = "NAK-ARGUMENT"
                    with m.Else():
                        m.d.sync += [cursor.eq(neuron), remaining.eq(count),
                                     reply_kind.eq(Response.FETCH)]
                        m.next = "ENTRIES"
                with m.Elif((count == 0) | (count > MAX_PAYLOAD // VALUE_BYTES)):
                    m.next = "NAK-ARGUMENT"
                with m.Else():
                    m.next = "READ-REQUEST"

            # Spike entries cursor .. cursor + remaining, 3 bytes each, then the reply.
            with m.State("ENTRIES"):
                with m.If(remaining == 0):
                    m.next = "ENTRIES-SEND"
                with m.Else():
                    m.d.comb += [spike_read.addr.eq(cursor), spike_read.en.eq(1)]
                    m.next = "ENTRY-0"
            entry = Cat(spike_read.data.neuron, spike_read.data.count)
            for i in range(3):
                with m.State(f"ENTRY-{i}"):
                    # A read port is enabled by default: keep its address on this entry.
                    m.d.comb += spike_read.addr.eq(cursor)
                    append(entry[8 * i:8 * i + 8])
                    if i < 2:
                        m.next = f"ENTRY-{i + 1}"
                    else:
                        m.d.sync += [cursor.eq(cursor + 1), remaining.eq(remaining - 1)]
                        m.next = "ENTRIES"
            with m.State("ENTRIES-SEND"):
                respond(reply_kind)

            with m.State("READ-REQUEST"):
                m.d.comb += [core.read_request.payload.neuron.eq(neuron),
                             core.read_request.valid.eq(neuron < net.neurons)]
                with m.If(neuron >= net.neurons):
                    m.d.sync += read_value.eq(0)
                    m.next = "READ-BYTE-0"
                with m.Elif(core.read_request.ready):
                    m.next = "READ-RESPONSE"
            with m.State("READ-RESPONSE"):
                m.d.comb += core.read_response.ready.eq(1)
                with m.If(core.read_response.valid):
                    value = core.read_response.payload.value
                    extended = value.as_signed() if net.state.signed else value
                    m.d.sync += read_value.eq(extended if value_bits < 32 else value)
                    m.next = "READ-BYTE-0"
            for i in range(VALUE_BYTES):
                with m.State(f"READ-BYTE-{i}"):
                    append(read_value[8 * i:8 * i + 8])
                    if i < VALUE_BYTES - 1:
                        m.next = f"READ-BYTE-{i + 1}"
                    else:
                        m.d.sync += [neuron.eq(neuron + 1), count.eq(count - 1)]
                        m.next = "READ-NEXT"
            with m.State("READ-NEXT"):
                with m.If(count == 0):
                    m.next = "READ-SEND"
                with m.Else():
                    m.next = "READ-REQUEST"
            with m.State("READ-SEND"):
                respond(Response.READ)

            with m.State("RESET"):
                m.d.comb += core_reset.eq(1)
                m.d.sync += [entries.eq(0), step_spikes.eq(0)]
                m.next = "RESET-WAIT"
            with m.State("RESET-WAIT"):
                with m.If(core.idle):
                    m.next = "RESET-SEND"
            with m.State("RESET-SEND"):
                respond(Response.RESET)

            if plan.runtime_weights:
                word_bytes = load_word_bytes(plan)
                address_width = plan.load_address_width
                load_word = Signal(8 * word_bytes)
                with m.State("LOAD-READ"):
                    with m.If(request_length % word_bytes != 0):
                        m.next = "NAK-ARGUMENT"
                    with m.Elif(index == request_length):
                        m.next = "LOAD-SEND"
                    with m.Else():
                        m.d.comb += [rx_read.addr.eq(index), rx_read.en.eq(1)]
                        m.d.sync += [neuron.eq(0), index.eq(index + 1)]
                        m.next = "LOAD-BYTE"
                with m.State("LOAD-BYTE"):
                    m.d.sync += load_word.eq(Cat(load_word[8:], rx_read.data))
                    with m.If(neuron == word_bytes - 1):
                        m.next = "LOAD-PUSH"
                    with m.Else():
                        m.d.comb += [rx_read.addr.eq(index), rx_read.en.eq(1)]
                        m.d.sync += [neuron.eq(neuron + 1), index.eq(index + 1)]
                with m.State("LOAD-PUSH"):
                    load = core.synapse_load
                    m.d.comb += [
                        load.payload.address.eq(load_word[:address_width]),
                        load.payload.data.eq(load_word[address_width:]),
                        load.valid.eq(1),
                    ]
                    with m.If(load.ready):
                        m.next = "LOAD-READ"
                with m.State("LOAD-SEND"):
                    respond(Response.LOAD)

            with m.State("SENDING"):
                # `sending` rose with the transition here; it falls when the CRC is out.
                with m.If(~sending):
                    m.d.comb += release.eq(1)
                    m.d.sync += busy_led.eq(0)
                    m.next = "WAIT"
        return m
