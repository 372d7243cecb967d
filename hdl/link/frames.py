"""The host link's framed protocol: what travels over the board's UART (8N1, bytes).

Both directions use the same frame::

    sync | length (2 bytes, LE) | code | payload (length bytes) | CRC (2 bytes, big-endian)

The CRC is CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF, no reflection,
Python's ``binascii.crc_hqx(data, 0xFFFF)``) over length, code and payload; sent
high byte first, it makes the CRC of the whole frame after the sync byte zero, which is
how the board checks it. Requests start with ``REQUEST_SYNC`` and carry a command
code; replies start with ``REPLY_SYNC`` and carry the command's code (success) or an
``Error`` code with an empty payload.

Values are little-endian two's complement in ``value_bytes(width)`` bytes (1, 2 or 4).

=========== ================================== =====================================
command     request payload                    reply payload (:func:`reply_length`)
=========== ================================== =====================================
TRAIN       label (2 bytes), n_inputs inputs   prediction (2 bytes)
INFER       n_inputs inputs                    prediction (2 bytes)
LOAD        position (4 bytes), 1..CHUNK       nothing
            weights
READ        position (4 bytes), count          count weights
            (2 bytes, 1..65535)
COUNTERS    nothing                            8 bytes per counter of
                                               ``protocol.counter_names(config)``:
                                               cycles, samples, MACs done, MACs
                                               skipped (32 bytes), then the cost
                                               counters if configured (104 in all)
RESET       nothing                            nothing (core state and counters
                                               cleared; the weights stay)
INFO        nothing                            the build's identity (``info_bytes``:
                                               the magic, then :data:`INFO_FIELDS`
                                               packed as :data:`INFO_FORMAT`, 28 bytes)
STORE       position (4 bytes; address: the    nothing
            first sample-memory word, lane 0),
            1..CHUNK store words
ORDER       position (4 bytes; address: the    nothing
            first order entry, lane 0),
            1..CHUNK sample indices
EPOCH       position (first order entry, lane  4 bytes per field of
            0), count (2 bytes, 1..65535)      ``store.RESULT_FIELDS``: right
                                               predictions, cycles, checksum (12)
EVALUATE    position (first record, lane 0),   as EPOCH's (12 bytes)
            count (2 bytes, 1..65535)
=========== ================================== =====================================

STORE, ORDER, EPOCH and EVALUATE are the core's commands of the same names
(:mod:`hdl.protocol`, :mod:`hdl.store.data_store`); a board built without a data store answers
them ``UNKNOWN_COMMAND``, and one with a store checks that they stay inside it
(``OUT_OF_RANGE``): positions and counts, and every sample index of an ORDER (all of them
before any reaches the core). EPOCH before any ORDER, and EPOCH or EVALUATE before any STORE
(a store in block RAM), answer ``NOT_STORED``: the memories they would read hold nothing the
host put there. Store words travel in ``value_bytes`` of their width, sample indices in
:func:`order_bytes`.

A position is ``hdl.protocol.position(address, lane)`` (bank words, see
:mod:`hdl.layout`). The board receives a whole request and checks it before the core
sees any of it, so a corrupt, truncated, unknown or out-of-range request changes
nothing: it gets an error reply and the link waits for the next sync byte.
"""

import binascii
import struct

from amaranth.lib import data, enum

from ..protocol import Position, counter_names
from ..store import RESULT_FIELDS

__all__ = ["REQUEST_SYNC", "REPLY_SYNC", "Command", "Error", "FrameHeader", "TrainHead", "LoadHead", "ReadHead",
           "RequestHead", "HEAD_BYTES", "CHUNK", "value_bytes", "order_bytes", "reply_length", "crc16", "pack", "unpack", "encode", "info_bytes", "INFO_FORMAT", "INFO_FIELDS", "config_id"]

REQUEST_SYNC = 0xA5
REPLY_SYNC = 0x5A
CHUNK = 64            # weights per LOAD request: bounds the board's frame buffer
INFO_MAGIC = b"TRI1"  # INFO reply starts with this (format version 1)


class Command(enum.IntEnum, shape=8):
    """A request's ``code``; a good reply repeats it."""
    TRAIN = 0x01
    INFER = 0x02
    LOAD = 0x03
    READ = 0x04
    COUNTERS = 0x05
    RESET = 0x06
    INFO = 0x07
    STORE = 0x08
    ORDER = 0x09
    EPOCH = 0x0A
    EVALUATE = 0x0B


class Error(enum.IntEnum, shape=8):
    """A reply's ``code`` when the request was refused (the reply has no payload)."""
    BAD_CRC = 0xE1          # the frame's CRC does not match: nothing done
    BAD_LENGTH = 0xE2       # the length does not fit the command (or the buffer)
    UNKNOWN_COMMAND = 0xE3
    TRUNCATED = 0xE4        # the line went quiet in the middle of a frame
    OUT_OF_RANGE = 0xE5     # a label, position, count or sample index outside the core
    NOT_STORED = 0xE6       # EPOCH or EVALUATE on a store memory that no STORE (or ORDER) has written


#: A frame after its sync byte: the payload's length in bytes, and the command or reply code.
FrameHeader = data.StructLayout({"length": 16, "code": 8})

#: The start of a request's payload: TRAIN's label; LOAD's and READ's position; READ's word count.
TrainHead = data.StructLayout({"label": 16})
LoadHead = data.StructLayout({"position": Position})
ReadHead = data.StructLayout({"position": Position, "count": 16})
#: The head a request's payload starts with, whichever command it is.
RequestHead = data.UnionLayout({"train": TrainHead, "load": LoadHead, "read": ReadHead})
HEAD_BYTES = RequestHead.size // 8


def value_bytes(width: int) -> int:
    """Bytes per value of ``width`` bits on the link: 1, 2 or 4."""
    return 1 if width <= 8 else 2 if width <= 16 else 4


def order_bytes(samples: int) -> int:
    """Bytes per sample index (ORDER's values) for a store of ``samples`` samples."""
    return value_bytes(max(1, (samples - 1).bit_length()))


def reply_length(config, command: Command, count: int = 0) -> int:
    """Bytes of a good reply's payload to ``command`` (READ: of ``count`` weights): the one statement of every
    reply's size. The request sequencer plans its replies by it, the host reads them by it, and the tables of
    this module and of docs/hardware.md are checked against it (tb/link/test_frames.py)."""
    command = Command(command)
    if command in (Command.TRAIN, Command.INFER):
        return 2
    if command == Command.READ:
        return count * value_bytes(config.weight.width)
    if command == Command.COUNTERS:
        return 8 * len(counter_names(config))
    if command == Command.INFO:
        return len(INFO_MAGIC) + struct.calcsize(INFO_FORMAT)
    if command in (Command.EPOCH, Command.EVALUATE):
        return 4 * len(RESULT_FIELDS)
    return 0  # LOAD, RESET, STORE, ORDER


def crc16(data: bytes) -> int:
    return binascii.crc_hqx(bytes(data), 0xFFFF)


def pack(layout: data.Layout, **fields) -> bytes:
    """``layout.const(fields)`` as the little-endian bytes that travel on the link."""
    return layout.const(fields).as_value().value.to_bytes(layout.size // 8, "little")


def unpack(layout: data.Layout, raw: bytes) -> data.Const:
    """The fields of ``raw``, little-endian bytes of ``layout`` (``unpack(FrameHeader, b).length``)."""
    if len(raw) != layout.size // 8:
        raise ValueError(f"a {layout!r} is {layout.size // 8} bytes, not {len(raw)}")
    return data.Const(layout, int.from_bytes(raw, "little"))


def encode(sync: int, code: int, payload: bytes = b"") -> bytes:
    """One frame: sync, header (length, code), payload, CRC."""
    body = pack(FrameHeader, length=len(payload), code=int(code)) + bytes(payload)
    return bytes([sync]) + body + struct.pack(">H", crc16(body))


def config_id(config) -> int:
    """32 bits that change when the hardware of ``config`` changes (:meth:`golden.config.Config.hardware_id`)."""
    return config.hardware_id()


#: The INFO reply after its magic (``struct`` format) and the names of its fields, for hardware and host.
INFO_FORMAT = "<IHHBBBBIII"
INFO_FIELDS = ("config_id", "n_inputs", "n_classes", "lanes", "input_width", "weight_width", "store_in_flash",
               "clk_freq", "baud", "store_samples")


def info_bytes(config, clk_freq: float, baud: int, store_samples: int = 0, in_flash: bool = False) -> bytes:
    """The INFO reply: magic, config id, sizes that the host needs, clock, baud rate, the data store's samples and
    whether their records are in the board's SPI flash (``trifactor flash --data``) rather than written by STORE."""
    sizes = config.sizes
    return INFO_MAGIC + struct.pack(INFO_FORMAT, config_id(config), sizes[0], config.n_classes, config.lanes,
                                    config.input.width, config.weight.width, int(in_flash), int(clk_freq), int(baud),
                                    store_samples)
