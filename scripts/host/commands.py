"""The core's word protocol (:mod:`hdl.protocol`) as lists of words: one command each, with its reply's length.

Shared by the cocotb driver (:class:`scripts.sim.drivers.CoreDriver`) and the native
simulator (:mod:`scripts.sim.native`), which sends a whole run's words at once.
"""

import numpy as np

from trifactor.hdl.store.data_store import store_geometry, store_words
from trifactor.hdl.store.epoch_runner import RESULT_FIELDS
from trifactor.hdl.layout import WeightLayout
from trifactor.hdl.protocol import MAX_COUNT, Op, counter_names, header, position

__all__ = ["Command", "load_words", "read_words", "counters", "store", "order", "epoch_order", "epoch", "evaluate",
           "chunks", "run_cycles_bound"]


class Command:
    """``words`` to send and ``replies``, the number of reply words they get."""

    def __init__(self, words: list, replies: int):
        self.words, self.replies = [int(w) for w in words], replies


def chunks(op: Op, start: int, words: list, where=lambda at: position(at, 0), chunk: int = MAX_COUNT) -> list:
    """LOAD, STORE or ORDER of ``words`` from ``start``, in commands of at most ``chunk`` words."""
    return [Command([header(op, len(words[at:at + chunk])), where(start + at), *words[at:at + chunk]], 1)
            for at in range(0, len(words), chunk)]


def load_words(config, weights: list, chunk: int = MAX_COUNT, learned: list = ()) -> list:
    """LOAD commands of golden-layout ``weights`` (and rule ``ddfa``'s learned feedback ``learned``; none: zeros)
    into the banks (address-major, lane-minor)."""
    mask = (1 << config.weight.width) - 1
    flat = (WeightLayout(config).to_banks(weights, learned).T.reshape(-1) & mask).tolist()
    return chunks(Op.LOAD, 0, flat, lambda at: position(*divmod(at, config.lanes)), chunk)


def read_words(config, chunk: int = MAX_COUNT) -> list:
    """READ commands of every bank word; their replies, in order, are the banks address-major."""
    total = WeightLayout(config).depth * config.lanes
    return [Command([header(Op.READ, min(chunk, total - at)), position(*divmod(at, config.lanes))],
                    min(chunk, total - at)) for at in range(0, total, chunk)]


def counters(config) -> Command:
    return Command([header(Op.COUNTERS)], 2 * len(counter_names(config)))


def store(config, record: int, x, y, chunk: int = MAX_COUNT) -> list:
    """STORE commands of quantised inputs ``x`` and labels ``y`` as records ``record, record + 1, ...``."""
    return chunks(Op.STORE, record * store_geometry(config)["stride"], store_words(config, x, y), chunk=chunk)


def order(start: int, indices, chunk: int = MAX_COUNT) -> list:
    """ORDER commands: the records EPOCH trains on, from order entry ``start``."""
    return chunks(Op.ORDER, start, np.asarray(indices).tolist(), chunk=chunk)


def epoch_order(config, seed: int, epoch: int, indices, chunk: int = MAX_COUNT) -> list:
    """The ORDER commands before epoch ``epoch`` of a run from the data store, whose order for it is ``indices``
    (:func:`golden.train.sample_orders` for ``seed`` and ``config``'s ``[training] order``): with "host", those
    indices; with "lfsr", before the first epoch only, the seed of the core's LFSR
    (:func:`golden.order.seed_words`, entries 0 and 1), which then draws every epoch's order itself."""
    if config.order == "host":
        return order(0, indices, chunk)
    from trifactor.golden.order import seed_words

    return order(0, seed_words(seed, len(indices)), chunk) if epoch == 0 else []


def epoch(start: int, count: int) -> Command:
    """Train on the records of order entries ``start .. start + count - 1`` (with the LFSR order: on the next
    ``count`` indices the core draws; ``start`` is not used, but is checked as with the order memory); replies: a
    word per :data:`hdl.store.epoch_runner.RESULT_FIELDS` (correct, cycles, checksum)."""
    return Command([header(Op.EPOCH, count), position(start, 0)], len(RESULT_FIELDS))


def evaluate(start: int, count: int) -> Command:
    """Infer on records ``start .. start + count - 1``; replies as :func:`epoch`'s."""
    return Command([header(Op.EVALUATE, count), position(start, 0)], len(RESULT_FIELDS))


def run_cycles_bound(config, samples: int, flash: bool = False) -> int:
    """Clock cycles within which a run of ``samples`` samples (EPOCH or EVALUATE) ends, whatever the data: each
    sample at most 4x its dense MAC issue cycles plus 100, and with ``flash`` its record's SPI read (16 cycles a
    byte, which overlaps the sample before it, yet may take longer) on top. The host waits for a run's reply and
    the native simulator budgets its cycles by it."""
    from trifactor.hdl.store import store_bytes

    per_sample = 4 * int(config.mac_issue_cycles) + 100
    if flash:
        per_sample += 17 * store_bytes(config, 1)
    return samples * per_sample


# -- the same commands as the board's link frames (hdl/link/frames.py) ------------------------------------------------

_LINK = {Op.LOAD: "LOAD", Op.STORE: "STORE", Op.ORDER: "ORDER", Op.READ: "READ", Op.COUNTERS: "COUNTERS",
         Op.EPOCH: "EPOCH", Op.EVALUATE: "EVALUATE"}


def link_value_bytes(config, store_samples: int) -> dict:
    """Bytes per value on the link, by core command: weights, store words, order entries."""
    from trifactor.hdl.link.frames import order_bytes, value_bytes

    return {Op.LOAD: value_bytes(config.weight.width), Op.READ: value_bytes(config.weight.width),
            Op.STORE: value_bytes(store_geometry(config)["width"]), Op.ORDER: order_bytes(store_samples)}


def to_frame(config, store_samples: int, command: Command) -> tuple:
    """A core command (at most :data:`hdl.link.frames.CHUNK` values) as a request frame; returns (frame, reply bytes)."""
    from trifactor.hdl.link.frames import REQUEST_SYNC, Command as Code, encode, reply_length
    from trifactor.hdl.protocol import Header

    op = Op(command.words[0] & 0xF)
    count = (command.words[0] >> Header["arg"].offset) & 0xFFFF
    sizes = link_value_bytes(config, store_samples)
    head = command.words[1].to_bytes(4, "little") if len(command.words) > 1 else b""
    code = Code[_LINK[op]]
    if op in (Op.LOAD, Op.STORE, Op.ORDER):
        payload = head + b"".join(w.to_bytes(sizes[op], "little") for w in command.words[2:])
    elif op in (Op.READ, Op.EPOCH, Op.EVALUATE):
        payload = head + count.to_bytes(2, "little")
    else:
        payload = b""
    return encode(REQUEST_SYNC, code, payload), 6 + reply_length(config, code, count)


def from_frame(config, store_samples: int, command: Command, frame: bytes) -> list:
    """The core's reply words to ``command`` from the board's reply ``frame`` (:data:`hdl.protocol.ACK` for an
    empty good reply); raises ValueError for a corrupt or error reply."""
    from trifactor.hdl.link.frames import REPLY_SYNC, crc16

    op = Op(command.words[0] & 0xF)
    length = int.from_bytes(frame[1:3], "little")
    if frame[0] != REPLY_SYNC or crc16(frame[1:]) != 0 or len(frame) != 6 + length or frame[3] >= 0xE0:
        raise ValueError(f"bad reply to {op.name}: {frame[:8].hex()}...")
    return payload_words(config, store_samples, command, frame[4:-2])


def payload_words(config, store_samples: int, command: Command, payload: bytes) -> list:
    """The core's reply words to ``command`` from a good reply's payload (:data:`hdl.protocol.ACK` for none)."""
    from trifactor.hdl.protocol import ACK

    if not payload:
        return [ACK]
    op = Op(command.words[0] & 0xF)
    size = link_value_bytes(config, store_samples)[Op.READ] if op == Op.READ else 4
    return [int.from_bytes(payload[at:at + size], "little") for at in range(0, len(payload), size)]
