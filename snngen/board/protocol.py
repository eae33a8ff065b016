"""The host protocol's constants and framing, shared by the gateware and the host (docs/host-protocol.md).

Every frame, both ways: ``SYNC type seq len payload[len] crc`` with ``crc`` the CRC-8
(polynomial 0x07, initial value 0) of ``type seq len payload``. A response carries the type of
its request with bit 7 set and the request's ``seq``.
"""

from __future__ import annotations

__all__ = ["MAX_PAYLOAD", "NAK", "PROTOCOL_VERSION", "SYNC", "Request", "crc8", "encode_frame"]

SYNC = 0xA5
PROTOCOL_VERSION = 1
MAX_PAYLOAD = 252          # a multiple of 2 and of 4: whole ids and whole state values
NAK = 0xFF


class Request:
    HELLO = 0x01
    INPUTS = 0x02
    STEP = 0x03
    READ = 0x04
    RESET = 0x05
    LOAD = 0x06


class Response:
    HELLO = 0x81
    INPUTS = 0x82
    SPIKES = 0x83       # spike ids of the running step (2 bytes each); more may follow
    READ = 0x84
    RESET = 0x85
    LOAD = 0x86
    STEP_END = 0x93     # end of one step: its spike count (2 bytes)


class NakCode:
    CRC = 1
    UNKNOWN = 2
    ARGUMENT = 3


NAK_MESSAGES = {
    NakCode.CRC: "the board received a frame with a bad CRC (a corrupted or lost byte)",
    NakCode.UNKNOWN: "the board does not know this request type",
    NakCode.ARGUMENT: "the board rejected the request's length or arguments",
}

MAX_READ = MAX_PAYLOAD // 4     # state values per READ (4 bytes each)
MAX_INPUTS = MAX_PAYLOAD // 2   # input ids per INPUTS frame


def crc8(data: bytes | bytearray, crc: int = 0) -> int:
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def encode_frame(kind: int, seq: int, payload: bytes = b"") -> bytes:
    if len(payload) > 255:
        raise ValueError(f"payload must be at most 255 bytes, not {len(payload)}")
    body = bytes([kind, seq & 0xFF, len(payload)]) + bytes(payload)
    return bytes([SYNC]) + body + bytes([crc8(body)])
