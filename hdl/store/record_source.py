"""Where the epoch runner's records come from: the data store's sample memory, or the board's SPI flash.

Both sources have one contract: take a record's index on ``request``, then stream the
record's :attr:`DataStore.stride` words on ``words``, the label first, in the store's word
format (:func:`hdl.store.data_store.store_words`); the next request is taken once the last word
has been handed over (or, from memory, is being). The runner does not know which it has.

=================  ============================  =================================
source             first word after the request  then
=================  ============================  =================================
MemoryRecords      2 cycles                      a word a cycle
FlashRecords       81 cycles (command, address)  a word each 16 cycles per byte
=================  ============================  =================================
"""

from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import ReadPort
from amaranth.lib.wiring import In, Out

from ..arith import times_constant
from .data_store import DataStore
from ..errors import reject
from .spi_flash import FlashPins, SpiFlashReader

__all__ = ["MemoryRecords", "FlashRecords", "record_source"]


def _signature(store):
    return {"request": In(stream.Signature(range(store.samples))), "words": Out(stream.Signature(store.width))}


class MemoryRecords(wiring.Component):
    """Records from the store's sample memory (its read port, latency 1), a word a cycle while taken.

    Members
    -------
    request : In(stream.Signature(range(samples)))
    words : Out(stream.Signature(width))
    sample_read : In(ReadPort.Signature(...))
        To :attr:`DataStore.sample_read`.
    """

    def __init__(self, store: DataStore):
        if not isinstance(store, DataStore) or store.flash is not None:
            reject(self, f"store must be a DataStore with a sample memory, not {store!r}")
        self.store = store
        super().__init__({**_signature(store), "sample_read": In(ReadPort.Signature(
            addr_width=len(store.sample_read.addr), shape=store.width))})

    #: the fewest cycles between two words (:class:`~hdl.store.epoch_runner.EpochRunner`'s ``word_interval``)
    word_interval = 1

    def elaborate(self, platform):
        m = Module()
        store, read = self.store, self.sample_read
        address, left = Signal.like(read.addr), Signal(range(store.stride + 1))
        held = Signal()  # the read port's data is a word not yet taken (the port holds it while en is low)
        advance = ~held | self.words.ready
        m.d.comb += [read.addr.eq(address), read.en.eq(advance), self.words.valid.eq(held),
                     self.words.payload.eq(read.data), self.request.ready.eq(left == 0)]
        with m.If(advance):
            m.d.sync += held.eq(left != 0)
            with m.If(left != 0):
                m.d.sync += [address.eq(address + 1), left.eq(left - 1)]
        with m.If(self.request.valid & (left == 0)):
            m.d.sync += [address.eq(times_constant(self.request.payload, store.stride)), left.eq(store.stride)]
        return m


class FlashRecords(wiring.Component):
    """Records from the board's SPI flash (:class:`hdl.store.spi_flash.SpiFlashReader`): one Read Data per record.

    Members
    -------
    request : In(stream.Signature(range(samples)))
    words : Out(stream.Signature(width))
        Each word assembled from :func:`~hdl.store.data_store.word_bytes` bytes, little-endian.
    pins : Out(FlashPins)
    """

    def __init__(self, store: DataStore):
        if not isinstance(store, DataStore) or store.flash is None:
            reject(self, f"store must be a DataStore in flash, not {store!r}")
        self.store = store
        self.reader = SpiFlashReader(store.flash.clk_hz, max_count=store.stride * store.word_bytes)
        super().__init__({**_signature(store), "pins": Out(FlashPins)})

    @property
    def word_interval(self) -> int:
        """The fewest cycles between two words: a byte each :attr:`SpiFlashReader.cycles_per_byte`."""
        return self.reader.cycles_per_byte * self.store.word_bytes

    def elaborate(self, platform):
        m = Module()
        store, reader = self.store, self.reader
        n = store.word_bytes
        record_bytes = store.stride * n
        m.submodules.reader = reader
        wiring.connect(m, reader.pins, wiring.flipped(self.pins))
        m.d.comb += [reader.request.valid.eq(self.request.valid), self.request.ready.eq(reader.request.ready),
                     reader.request.payload.address.eq(store.flash.records_at
                                                       + times_constant(self.request.payload, record_bytes)),
                     reader.request.payload.count.eq(record_bytes)]
        if n == 1:  # a byte a word: its low bits
            m.d.comb += [self.words.valid.eq(reader.data.valid), self.words.payload.eq(reader.data.payload),
                         reader.data.ready.eq(self.words.ready)]
            return m
        word, got = Signal(8 * n), Signal(range(n + 1))  # bytes so far, the first in the lowest bits
        m.d.comb += [self.words.valid.eq(got == n), self.words.payload.eq(word),
                     reader.data.ready.eq(got != n)]
        with m.If(reader.data.valid & reader.data.ready):
            m.d.sync += [word.eq((word >> 8) | (reader.data.payload << 8 * (n - 1))), got.eq(got + 1)]
        with m.If(self.words.valid & self.words.ready):
            m.d.sync += got.eq(0)
        return m


def record_source(store: DataStore):
    """The source of ``store``'s records: :class:`FlashRecords` if they are in flash, else :class:`MemoryRecords`."""
    return FlashRecords(store) if store.flash is not None else MemoryRecords(store)
