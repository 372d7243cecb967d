"""The learner core's word protocol: what the host sends on ``i`` and gets back on ``o`` (32-bit words).

Every command starts with a :data:`Header` word: the opcode (:class:`Op`) in bits 0-3,
then bits 8-23 hold the argument: the label (TRAIN) or the word count (LOAD, READ).

========== ================================ ==============================================
command    host sends after the header      core replies
========== ================================ ==============================================
TRAIN      ``n_inputs`` input words (the    1 word: the prediction made before the update
           input format's low bits)
INFER      ``n_inputs`` input words         1 word: the prediction
LOAD       a :data:`Position` word, then    1 word: ``ACK``
           ``count`` weight words
READ       a :data:`Position` word          ``count`` weight words
COUNTERS   nothing                          2 words per counter of
                                            :func:`counter_names`: cycles, samples, MACs
                                            done, MACs skipped (8 words), then the cost
                                            counters if the config has them; each 64
                                            bits, low word first (the core counts 48
                                            bits; bit 48 is set once the counter has
                                            wrapped, the rest is 0)
STORE      a :data:`Position` word (address:    1 word: ``ACK``
           the first sample-memory word),
           then ``count`` words
ORDER      a :data:`Position` word (address:    1 word: ``ACK``; ``ERROR | opcode`` if an
           the first order entry), then         index names no sample of the store
           ``count`` sample indices
EPOCH      a :data:`Position` word (address:    3 words, one per field of
           the first order entry)               ``store.RESULT_FIELDS``: the samples
                                                predicted right (before each update),
                                                the cycles the run took, the checksum
                                                of the records it read
EVALUATE   a :data:`Position` word (address:    3 words, as EPOCH's
           the first record)
other      nothing                          1 word: ``ERROR | opcode``
========== ================================ ==============================================

STORE, ORDER, EPOCH and EVALUATE exist only in a core with a data store (the others
answer them ``ERROR | opcode``); their ``count`` (the header's arg) is words (STORE,
ORDER) or samples (EPOCH, EVALUATE), and 0 answers ``ERROR | opcode`` after the position
word. The sample memory's records and the order are :mod:`hdl.store.data_store`'s. EPOCH trains
on the samples ``order[address], order[address + 1], ...`` (with ``[training] order = "lfsr"``
there is no order memory: ORDER's two words seed the on-chip LFSR order, entry 0 its key and
entry 1 the last training record, and EPOCH trains on the next ``count`` samples it draws,
whatever its address), EVALUATE infers on the
records ``address, address + 1, ...``; each runs them as TRAIN / INFER commands would.
An ORDER index outside the store is not written, nor any after it in the command (the ones
before it are: the core takes a word at a time), and the command answers ``ERROR | opcode``.
EPOCH before any ORDER has succeeded, and EPOCH or EVALUATE before any STORE has (a store in
block RAM; records in flash are the programmer's), answer ``ERROR | opcode`` after the
position word: the memories hold nothing the host put there. RESET leaves that knowledge,
as it leaves the memories.

Weight words are in the bank layout of :mod:`hdl.layout` (``WeightLayout.to_banks``),
walked address-major, lane-minor from the position word (bank address in bits 0-23, lane
in bits 24-31). LOAD and READ with ``count = 0`` answer ``ERROR | opcode`` after the
position word. The core trusts the position and count to stay inside the banks; the
board tops' host link checks them before they get here, and it wraps these words in
framed, checked packets.

The layouts are the one definition of these words: the hardware views a word through
them (``Header(word).op``), the host packs one with :func:`header` / :func:`position`,
which are their ``.const()``.
"""

from amaranth.lib import data, enum

__all__ = ["Op", "Header", "Position", "ACK", "ERROR", "header", "position", "COUNTER_NAMES", "COUNTER_BITS",
           "COST_EVENTS", "COST_PASSES", "COST_NAMES", "cost_name", "counter_names", "counter_words", "MAX_COUNT"]


class Op(enum.IntEnum, shape=4):
    """The core's commands (a header's ``op`` field)."""
    TRAIN = 1
    INFER = 2
    LOAD = 3
    READ = 4
    COUNTERS = 5
    # with a data store (``LearnerCore(store_samples=...)``, :mod:`hdl.store.data_store`)
    STORE = 6
    ORDER = 7
    EPOCH = 8
    EVALUATE = 9


#: A command's first word: ``op``, and ``arg``, the TRAIN label or the LOAD / READ word count.
Header = data.StructLayout({"op": Op, "reserved": 4, "arg": 16, "unused": 8})

#: Where a LOAD or READ starts: a bank address and a lane.
Position = data.StructLayout({"address": 24, "lane": 8})

ACK = 0xACC0_0000
ERROR = 0xE000_0000
COUNTER_NAMES = ("cycles", "samples", "macs_done", "macs_skipped")
COUNTER_BITS = 48  # counted in the core; sent as 64, bit 48 the sticky wrap flag

#: The cost counters of ``[hardware] cost_counters = true``: ``(pass, event)``, in reply order
#: after :data:`COUNTER_NAMES`. The one table of them: the core wires one event source per
#: line (``LearnerCore.cost_events``), the host reads and groups them from it. Every event is
#: counted where it happens and attributed to the pass whose part caused it, not by time.
COST_EVENTS = (
    ("forward", "macs"),              # MACs issued by forward sweeps (the used lanes, as macs_done)
    ("forward", "weight_reads"),      # bank words the MAC array reads: every lane, per element
    ("error_path", "macs"),           # MACs issued by backward sweeps (backpropagation), or ddfa's passes
    ("error_path", "weight_reads"),   # bank words the backward unit (ddfa: a tangent pass) reads: every lane, per element
    ("error_path", "feedback_reads"),  # feedback values (entries of B) read: k per hidden neuron (rank r: r; ddfa: every lane, per element)
    ("error_path", "deltas"),         # deltas the error path delivers for hidden neurons
    ("update", "macs"),               # MACs issued by update sweeps (the used lanes)
    ("update", "weight_reads"),       # bank words the update unit reads: every lane, per element
    ("update", "weight_writes"),      # bank words the update unit writes: every lane, per element
)
#: The passes of :data:`COST_EVENTS`, in a sample's order.
COST_PASSES = ("forward", "error_path", "update")


def cost_name(pass_: str, event: str) -> str:
    """A cost counter's name: ``forward_macs``, ``update_weight_writes``, ..."""
    return f"{pass_}_{event}"


COST_NAMES = tuple(cost_name(*entry) for entry in COST_EVENTS)


def counter_names(config) -> tuple:
    """The counters COUNTERS sends for ``config``, in order: :data:`COUNTER_NAMES`, then :data:`COST_NAMES`
    if ``[hardware] cost_counters``. The hardware builds its counters and the host parses the reply from this."""
    return COUNTER_NAMES + (COST_NAMES if config.cost_counters else ())


def counter_words(config) -> int:
    """Words of the COUNTERS reply: two per counter (64 bits, low word first)."""
    return 2 * len(counter_names(config))

MAX_COUNT = (1 << Header["arg"].width) - 1  # words per LOAD / READ command: the arg field


def _word(layout, **fields) -> int:
    return layout.const(fields).as_value().value


def header(op: Op, label: int = 0) -> int:
    """The header word; ``label`` is the TRAIN label or the LOAD / READ word count."""
    return _word(Header, op=Op(op), arg=int(label))


def position(address: int, lane: int) -> int:
    """The position word: where a LOAD or READ starts, a bank address and a lane."""
    return _word(Position, address=int(address), lane=int(lane))
