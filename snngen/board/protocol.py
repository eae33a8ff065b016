"""The host protocol's constants and framing, shared by the gateware and the host (docs/host-protocol.md).

Every frame, both ways: ``SYNC type seq len ~len payload[len] crc[4]`` with ``crc`` the CRC-32C
(Castagnoli) of ``type seq len ~len payload``, little-endian. A response carries the type of its
request with bit 7 set and the request's ``seq``; every request has exactly one response frame.
"""

from __future__ import annotations

__all__ = [
    "CRC_BYTES",
    "HEADER_BYTES",
    "INLINE_ENTRIES",
    "MAX_PAYLOAD",
    "NAK",
    "PROTOCOL_VERSION",
    "SYNC",
    "Request",
    "Response",
    "crc8",
    "crc32c",
    "crc32c_update",
    "encode_frame",
    "frame_bytes",
]

SYNC = 0xA5
PROTOCOL_VERSION = 2
MAX_PAYLOAD = 252          # a multiple of 2, 3 and 4: whole ids, spike entries and state values
NAK = 0xFF
HEADER_BYTES = 5           # SYNC type seq len ~len
CRC_BYTES = 4
ENTRY_BYTES = 3            # a spike entry: neuron id (2 B), spike count (1 B)
STEP_HEADER_BYTES = 8      # a STEP response: step number (4 B), entries (2 B), spikes (2 B)
INLINE_ENTRIES = (MAX_PAYLOAD - STEP_HEADER_BYTES) // ENTRY_BYTES   # entries a STEP reply holds
CRC32C_POLYNOMIAL = 0x82F63B78  # reflected Castagnoli polynomial 0x1EDC6F41


class Request:
    HELLO = 0x01
    INPUTS = 0x02
    STEP = 0x03
    READ = 0x04
    RESET = 0x05
    LOAD = 0x06
    FETCH = 0x07


class Response:
    HELLO = 0x81
    INPUTS = 0x82
    STEP = 0x83
    READ = 0x84
    RESET = 0x85
    LOAD = 0x86
    FETCH = 0x87


class NakCode:
    CRC = 1
    UNKNOWN = 2
    ARGUMENT = 3


NAK_MESSAGES = {
    NakCode.CRC: "the board received a frame with a bad CRC (a corrupted or lost byte)",
    NakCode.UNKNOWN: "the board does not know this request type",
    NakCode.ARGUMENT: "the board rejected the request's length or arguments",
}

MAX_READ = MAX_PAYLOAD // 4             # state values per READ (4 bytes each)
MAX_INPUTS = MAX_PAYLOAD // 2           # input ids per INPUTS frame
MAX_STEP_INPUTS = (MAX_PAYLOAD - 1) // 2  # input ids per STEP frame (after its entry cap)
MAX_FETCH = MAX_PAYLOAD // ENTRY_BYTES  # spike entries per FETCH


def crc32c_update(crc: int, byte: int) -> int:
    """One byte into a CRC-32C register (reflected, no final XOR): linear over GF(2) in both."""
    crc ^= byte
    for _ in range(8):
        crc = (crc >> 1) ^ CRC32C_POLYNOMIAL if crc & 1 else crc >> 1
    return crc


def crc32c(data: bytes | bytearray) -> int:
    """CRC-32C (iSCSI, Castagnoli): initial value and final XOR 0xFFFFFFFF."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = crc32c_update(crc, byte)
    return crc ^ 0xFFFFFFFF


def crc8(data: bytes | bytearray, crc: int = 0) -> int:
    """CRC-8 (polynomial 0x07) of protocol version 1: only to recognise a board built with it."""
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def encode_frame(kind: int, seq: int, payload: bytes = b"") -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload must be at most {MAX_PAYLOAD} bytes, not {len(payload)}")
    body = bytes([kind, seq & 0xFF, len(payload), len(payload) ^ 0xFF]) + bytes(payload)
    return bytes([SYNC]) + body + crc32c(body).to_bytes(CRC_BYTES, "little")


def frame_bytes(payload_length: int) -> int:
    """Bytes on the line for a frame with this payload length."""
    return HEADER_BYTES + payload_length + CRC_BYTES
