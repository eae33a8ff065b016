"""The board's host link: frames from the UART in, commands on the SNN core, frames back out."""


from amaranth import Array, Cat, Const, Module, ResetInserter, Signal, Value
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from ..hw.core import SNNCore
from ..hw.plan import HardwarePlan
from .protocol import (
    MAX_PAYLOAD,
    NAK,
    PROTOCOL_VERSION,
    SYNC,
    NakCode,
    Request,
    Response,
    crc8,
)
from .uart import UARTReceiver, UARTTransmitter

__all__ = ["BoardCore", "crc8_next", "hello_payload"]

VALUE_BYTES = 4


def crc8_next(crc: Value, byte: Value) -> Value:
    """CRC-8 (polynomial 0x07) of `crc` extended by `byte`, as one combinational expression.

    The update is linear over GF(2) in ``crc ^ byte``: each output bit is the XOR of the input
    bits whose unit vector sets it (taken from the host's :func:`~.protocol.crc8`), one small
    XOR per bit instead of eight unrolled shift steps.
    """
    x = crc ^ byte
    bits = []
    for out_bit in range(8):
        taps = [j for j in range(8) if crc8(bytes([1 << j])) >> out_bit & 1]
        term = x[taps[0]]
        for j in taps[1:]:
            term = term ^ x[j]
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
                  load_word_bytes(plan) if plan.runtime_weights else 0, VALUE_BYTES])


class BoardCore(wiring.Component):
    """The SNN core behind a UART host link: everything of a board top but its pins and clock.

    The link answers the requests of docs/host-protocol.md one at a time: it receives a frame
    (checking its CRC; a bad frame gets a NAK and nothing else happens), runs the command on the
    core, and sends the response frames. Output spikes wait in the core while a frame is on the
    wire (backpressure), so none is lost however slow the line.

    Latency and throughput are the UART's: 10 bit times per byte; a step with S spikes costs
    about (2·S + 6·⌈S/126⌉ + 8) byte times on the line plus the core's own cycles.

    Parameters
    ----------
    plan : HardwarePlan
    divisor : int
        Clock cycles per UART bit (clock / baud).

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

    def __init__(self, plan: HardwarePlan, divisor: int):
        if not isinstance(plan, HardwarePlan):
            raise TypeError(f"plan must be a HardwarePlan, not {plan!r}")
        self._plan = plan
        self._divisor = divisor
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

        # ---- frame receiver ----------------------------------------------------------------
        request_type = Signal(8)
        request_seq = Signal(8)
        request_length = Signal(8)
        received = Signal(8)
        rx_crc = Signal(8)
        frame_ready = Signal()      # a whole frame is in: the executor owns it until `release`
        frame_good = Signal()
        release = Signal()
        # A frame that stops arriving (a lost byte) is abandoned after ~3 byte times of silence.
        silence_limit = self._divisor * 30
        silence = Signal(range(silence_limit + 1))
        byte = receiver.bytes
        m.d.comb += byte.ready.eq(~frame_ready)
        with m.If(release):
            m.d.sync += frame_ready.eq(0)
        with m.FSM(name="receive"):
            with m.State("SYNC"):
                with m.If(byte.valid & byte.ready & (byte.payload == SYNC)):
                    m.d.sync += [rx_crc.eq(0), silence.eq(0)]
                    m.next = "TYPE"
            for state, target, following in (("TYPE", request_type, "SEQ"),
                                              ("SEQ", request_seq, "LENGTH")):
                with m.State(state):
                    m.d.sync += silence.eq(silence + 1)
                    with m.If(byte.valid & byte.ready):
                        m.d.sync += [target.eq(byte.payload), silence.eq(0),
                                     rx_crc.eq(crc8_next(rx_crc, byte.payload))]
                        m.next = following
                    with m.Elif(silence == silence_limit):
                        m.next = "SYNC"
            with m.State("LENGTH"):
                m.d.sync += silence.eq(silence + 1)
                with m.If(byte.valid & byte.ready):
                    m.d.sync += [request_length.eq(byte.payload), received.eq(0), silence.eq(0),
                                 rx_crc.eq(crc8_next(rx_crc, byte.payload))]
                    with m.If(byte.payload == 0):
                        m.next = "CRC"
                    with m.Else():
                        m.next = "PAYLOAD"
                with m.Elif(silence == silence_limit):
                    m.next = "SYNC"
            with m.State("PAYLOAD"):
                m.d.sync += silence.eq(silence + 1)
                m.d.comb += [rx_write.addr.eq(received), rx_write.data.eq(byte.payload)]
                with m.If(byte.valid & byte.ready):
                    m.d.comb += rx_write.en.eq(1)
                    m.d.sync += [received.eq(received + 1), silence.eq(0),
                                 rx_crc.eq(crc8_next(rx_crc, byte.payload))]
                    with m.If(received + 1 == request_length):
                        m.next = "CRC"
                with m.Elif(silence == silence_limit):
                    m.next = "SYNC"
            with m.State("CRC"):
                m.d.sync += silence.eq(silence + 1)
                with m.If(byte.valid & byte.ready):
                    m.d.sync += [frame_ready.eq(1), frame_good.eq(byte.payload == rx_crc)]
                    m.next = "SYNC"
                with m.Elif(silence == silence_limit):
                    m.next = "SYNC"

        # ---- frame sender: SYNC type seq len tx_buffer[0..len) crc ---------------------------
        send = Signal()             # pulse: send a frame of `send_type`, `send_length`
        sending = Signal()
        send_type = Signal(8)
        send_length = Signal(8)
        sent = Signal(8)
        tx_crc = Signal(8)
        out = transmitter.bytes
        with m.FSM(name="send"):
            with m.State("IDLE"):
                with m.If(send):
                    m.d.sync += [sending.eq(1), tx_crc.eq(0)]
                    m.next = "SYNC"
            steps = (("SYNC", Const(SYNC, 8), "TYPE", False), ("TYPE", send_type, "SEQ", True),
                     ("SEQ", request_seq, "LENGTH", True))
            for state, value, following, counted in steps:
                with m.State(state):
                    m.d.comb += [out.payload.eq(value), out.valid.eq(1)]
                    with m.If(out.ready):
                        if counted:
                            m.d.sync += tx_crc.eq(crc8_next(tx_crc, value))
                        m.next = following
            with m.State("LENGTH"):
                m.d.comb += [out.payload.eq(send_length), out.valid.eq(1),
                             tx_read.addr.eq(0), tx_read.en.eq(1)]
                with m.If(out.ready):
                    m.d.sync += [tx_crc.eq(crc8_next(tx_crc, send_length)), sent.eq(0)]
                    m.next = "PAYLOAD"
                    with m.If(send_length == 0):
                        m.next = "CRC"
            with m.State("PAYLOAD"):
                # tx_read.data holds byte `sent` (read a cycle ahead, held while waiting).
                m.d.comb += [out.payload.eq(tx_read.data), out.valid.eq(1),
                             tx_read.addr.eq(sent + 1), tx_read.en.eq(out.ready)]
                with m.If(out.ready):
                    m.d.sync += [tx_crc.eq(crc8_next(tx_crc, tx_read.data)), sent.eq(sent + 1)]
                    with m.If(sent + 1 == send_length):
                        m.next = "CRC"
            with m.State("CRC"):
                m.d.comb += [out.payload.eq(tx_crc), out.valid.eq(1)]
                with m.If(out.ready):
                    m.d.sync += sending.eq(0)
                    m.next = "IDLE"

        # ---- executor -------------------------------------------------------------------------
        net = plan.network
        hello = Array(Const(b, 8) for b in hello_payload(plan))
        index = Signal(16)          # payload byte / item being processed
        count = Signal(16)          # items left (steps, reads)
        length = Signal(8)          # bytes appended to tx_buffer
        word = Signal(16)
        neuron = Signal(16)
        step_spikes = Signal(16)
        m.d.comb += [tx_write.addr.eq(length)]

        def append(value):
            m.d.comb += [tx_write.data.eq(value), tx_write.en.eq(1)]
            m.d.sync += length.eq(length + 1)

        resume_states = set()

        def respond(kind, then):
            # The frame is sent from tx_buffer: wait until it is out before touching the buffer.
            m.d.comb += send.eq(1)
            m.d.sync += [send_type.eq(kind), send_length.eq(length)]
            resume_states.add(then)
            m.next = f"SENT-THEN-{then}"

        busy_led = Signal()
        error_led = Signal()
        step_led = Signal()
        m.d.comb += self.leds.eq(Cat(step_led, busy_led, error_led))
        value_bits = net.state.bits
        read_value = Signal(32)

        with m.FSM(name="execute"):
            with m.State("WAIT"):
                m.d.sync += [length.eq(0), index.eq(0)]
                with m.If(frame_ready):
                    m.d.sync += busy_led.eq(1)
                    with m.If(~frame_good):
                        m.d.sync += error_led.eq(1)
                        m.next = "NAK-CRC"
                    with m.Else():
                        m.d.sync += error_led.eq(0)
                        with m.Switch(request_type):
                            with m.Case(Request.HELLO):
                                m.next = "HELLO"
                            with m.Case(Request.INPUTS):
                                with m.If(request_length[0]):
                                    m.next = "NAK-ARGUMENT"
                                with m.Else():
                                    m.next = "INPUTS-READ"
                            with m.Case(Request.STEP):
                                with m.If(request_length != 2):
                                    m.next = "NAK-ARGUMENT"
                                with m.Else():
                                    m.next = "STEP-ARGUMENT"
                            with m.Case(Request.READ):
                                with m.If(request_length != 3):
                                    m.next = "NAK-ARGUMENT"
                                with m.Else():
                                    m.next = "READ-ARGUMENT"
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
                    respond(NAK, "FINISH")

            with m.State("HELLO"):
                append(hello[index[:4]])
                m.d.sync += index.eq(index + 1)
                with m.If(index == len(hello) - 1):
                    m.next = "HELLO-SEND"
            with m.State("HELLO-SEND"):
                respond(Response.HELLO, "FINISH")

            # Payload bytes come from rx_buffer, one per cycle after its address (`index`).
            with m.State("INPUTS-READ"):
                with m.If(index == request_length):
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
                respond(Response.INPUTS, "FINISH")

            with m.State("STEP-ARGUMENT"):
                m.d.comb += [rx_read.addr.eq(0), rx_read.en.eq(1)]
                m.next = "STEP-ARGUMENT-LOW"
            with m.State("STEP-ARGUMENT-LOW"):
                m.d.sync += count[:8].eq(rx_read.data)
                m.d.comb += [rx_read.addr.eq(1), rx_read.en.eq(1)]
                m.next = "STEP-ARGUMENT-HIGH"
            with m.State("STEP-ARGUMENT-HIGH"):
                m.d.sync += count[8:].eq(rx_read.data)
                m.next = "STEP-START"
            with m.State("STEP-START"):
                with m.If(count == 0):
                    m.next = "FINISH"
                with m.Elif(core.idle & ~sending):
                    m.d.comb += core.start.eq(1)
                    m.d.sync += [step_led.eq(~step_led), length.eq(0)]
                    m.next = "STEP-COLLECT"
            with m.State("STEP-COLLECT"):
                spikes = core.spikes
                with m.If(length >= MAX_PAYLOAD):
                    m.next = "STEP-SEND-SPIKES"
                with m.Elif(spikes.valid & ~sending):
                    m.d.comb += spikes.ready.eq(1)
                    with m.If(spikes.payload.end):
                        m.d.sync += step_spikes.eq(spikes.payload.neuron)
                        m.next = "STEP-FLUSH"
                    with m.Else():
                        m.d.sync += word[:16].eq(spikes.payload.neuron)
                        m.next = "STEP-ID-HIGH"
                        append(spikes.payload.neuron[:8])
            with m.State("STEP-ID-HIGH"):
                append(word[8:16])
                m.next = "STEP-COLLECT"
            with m.State("STEP-SEND-SPIKES"):
                respond(Response.SPIKES, "STEP-SENT-SPIKES")
            with m.State("STEP-SENT-SPIKES"):
                m.d.sync += length.eq(0)
                m.next = "STEP-COLLECT"
            with m.State("STEP-FLUSH"):
                with m.If(length == 0):
                    m.next = "STEP-END"
                with m.Elif(~sending):
                    respond(Response.SPIKES, "STEP-FLUSHED")
            with m.State("STEP-FLUSHED"):
                m.d.sync += length.eq(0)
                m.next = "STEP-END"
            with m.State("STEP-END"):
                with m.If(~sending):
                    append(step_spikes[:8])
                    m.next = "STEP-END-HIGH"
            with m.State("STEP-END-HIGH"):
                append(step_spikes[8:])
                m.next = "STEP-END-SEND"
            with m.State("STEP-END-SEND"):
                respond(Response.STEP_END, "STEP-NEXT")
            with m.State("STEP-NEXT"):
                m.d.sync += [count.eq(count - 1), length.eq(0)]
                m.next = "STEP-START"

            with m.State("READ-ARGUMENT"):
                m.d.comb += [rx_read.addr.eq(0), rx_read.en.eq(1)]
                m.next = "READ-ARGUMENT-0"
            for i, target in enumerate((neuron[:8], neuron[8:], count[:8])):
                with m.State(f"READ-ARGUMENT-{i}"):
                    m.d.sync += target.eq(rx_read.data)
                    if i < 2:
                        m.d.comb += [rx_read.addr.eq(i + 1), rx_read.en.eq(1)]
                        m.next = f"READ-ARGUMENT-{i + 1}"
                    else:
                        m.d.sync += count[8:].eq(0)
                        m.next = "READ-CHECK"
            with m.State("READ-CHECK"):
                with m.If((count == 0) | (count > MAX_PAYLOAD // VALUE_BYTES)):
                    m.next = "NAK-ARGUMENT"
                with m.Else():
                    m.next = "READ-REQUEST"
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
                respond(Response.READ, "FINISH")

            with m.State("RESET"):
                m.d.comb += core_reset.eq(1)
                m.next = "RESET-WAIT"
            with m.State("RESET-WAIT"):
                with m.If(core.idle):
                    m.next = "RESET-SEND"
            with m.State("RESET-SEND"):
                respond(Response.RESET, "FINISH")

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
                    respond(Response.LOAD, "FINISH")

            for then in sorted(resume_states):
                with m.State(f"SENT-THEN-{then}"):
                    # `sending` rose with the transition here; it falls when the CRC is out.
                    with m.If(~sending):
                        m.next = then

            with m.State("FINISH"):
                m.d.comb += release.eq(1)
                m.d.sync += busy_led.eq(0)
                m.next = "WAIT"
        return m
