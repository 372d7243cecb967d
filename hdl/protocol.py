"""The learner core's word protocol: what the host sends on ``i`` and gets back on ``o`` (32-bit words).

Every command starts with a header word: the opcode in bits 0-3, the label (TRAIN) in bits 8-23.

========== ================================ ==============================================
command    host sends after the header      core replies
========== ================================ ==============================================
TRAIN      ``n_inputs`` input words (raw,   1 word: the prediction made before the update
           two's complement, low bits used)
INFER      ``n_inputs`` input words         1 word: the prediction
LOAD       ``depth * lanes`` weight words,  1 word: ``ACK``
           address-major, lane-minor
READ       nothing                          ``depth * lanes`` weight words, same order
COUNTERS   nothing                          8 words: cycles, samples, MACs done, MACs
                                            skipped; each 64 bits, low word first
other      nothing                          1 word: ``ERROR | opcode``
========== ================================ ==============================================

Weight words are in the bank layout of :mod:`hdl.layout` (``WeightLayout.to_banks``).
The host link of the board tops wraps these words in framed, checked packets.
"""

import enum

__all__ = ["Op", "ACK", "ERROR", "header", "COUNTER_NAMES"]


class Op(enum.IntEnum):
    TRAIN = 1
    INFER = 2
    LOAD = 3
    READ = 4
    COUNTERS = 5


ACK = 0xACC0_0000
ERROR = 0xE000_0000
COUNTER_NAMES = ("cycles", "samples", "macs_done", "macs_skipped")


def header(op: Op, label: int = 0) -> int:
    return int(op) | (int(label) << 8)
