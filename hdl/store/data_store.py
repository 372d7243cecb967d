"""The data store: a quantised data set (inputs and labels) and an epoch's sample order, in the core's own memory.

Filled by the STORE and ORDER commands (:mod:`hdl.protocol`), read by the
:class:`~hdl.store.epoch_runner.EpochRunner` during EPOCH and EVALUATE. One definition of the
layout, used by the hardware and the host (:func:`store_words`):

- the **sample memory** holds ``samples`` records of :attr:`DataStore.stride` words,
  the label first, then the ``n_inputs`` inputs (raw bits of the input format); record
  ``s`` starts at word ``s * stride``;
- the **order memory** holds sample indices: EPOCH trains on ``order[start]``,
  ``order[start + 1]``, ... The host writes golden's permutation for the epoch
  (:func:`golden.train.sample_orders`), so a stored-data epoch trains in the very order
  of ``--backend fixed``. With ``[training] order = "lfsr"`` there is no order memory: an
  :class:`~hdl.store.lfsr_order.LfsrOrder` draws golden's LFSR order (:mod:`golden.order`) on chip.
  ORDER seeds it (entry 0: the key, entry 1: the last training record) and EPOCH trains on
  the next ``count`` indices it draws (its ``start`` is not used).

With ``flash`` (:class:`FlashPlacement`) the records are not in the FPGA at all but in the
board's SPI flash, written there by ``trifactor flash --data`` as :func:`flash_image` (a
header, then the records, each word in whole bytes, little-endian), and read by
:class:`hdl.store.record_source.FlashRecords`; STORE is then refused, ORDER still writes the
order memory (or seeds the LFSR).

In simulation both are plain Amaranth memories. On the iCEBreaker the sample memory is
meant for the UP5K's SPRAM (SB_SPRAM256KA, 16K x 16, one port): digits' 1797 records of 65
bytes are 116805 bytes, 3.6 of the 4 SPRAMs at two bytes a word; the store never reads and
writes in the same cycle (STORE, then EPOCH), so one port each is enough. The same holds for the order
memory (ORDER, then EPOCH): when the lane banks are in block RAM it has one port and goes to an SPRAM
(:func:`order_placement`; 11 bits x 1797 for digits would take 6 block RAMs, 13 bits x 5000 for MNIST's
5000 samples about 20). The LFSR order takes four registers of ``w + 1`` bits (state, key, taps, ``2**w``),
``N - 1`` and a comparator instead.
"""

import struct
import zlib
from dataclasses import dataclass

from amaranth import Module
from amaranth.hdl import Mux, Shape
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory, MemoryData, ReadPort, WritePort
from amaranth.lib.wiring import Out

from trifactor.golden.config import SPRAM_DEPTH, SPRAM_WIDTH, Config

from ..errors import reject, require_config
from ..spram import SPRAM_ATTR
from .lfsr_order import LfsrOrder

__all__ = ["DataStore", "order_placement", "order_memory_bits", "STORE_ROOM_BYTES", "store_geometry", "store_words",
           "store_bytes", "word_bytes", "record_bytes",
           "FlashPlacement", "flash_image", "flash_header", "FLASH_MAGIC", "FLASH_HEADER"]

#: The room a board gives the store: the UP5K's 4 SPRAMs (16K x 16 each), the memory it is meant for.
STORE_ROOM_BYTES = 4 * 16384 * 2


def order_placement(config: Config, samples: int) -> str | None:
    """Where the order memory of a store of ``samples`` samples goes: ``"spram"`` (one port, marked for the UP5K's
    SPRAM) when the lane banks are in block RAM and the order fits one SB_SPRAM256KA, else ``"block_ram"``;
    ``None`` with ``[training] order = "lfsr"`` (no order memory)."""
    if config.order == "lfsr":
        return None
    fits = samples <= SPRAM_DEPTH and Shape.cast(range(samples)).width <= SPRAM_WIDTH
    return "spram" if fits and config.bank_placement == "block_ram" else "block_ram"


def order_memory_bits(samples: int) -> int:
    """Bits of the order memory of a store of ``samples`` samples: an index of ``range(samples)`` each."""
    return samples * Shape.cast(range(samples)).width


def store_geometry(config: Config) -> dict:
    """``stride`` (words per record: label + inputs) and ``width`` (bits per word: an input or a label)."""
    return {"stride": config.sizes[0] + 1, "width": max(config.input.width, (config.n_classes - 1).bit_length())}


def word_bytes(config: Config) -> int:
    """Whole bytes a store word takes in SPRAM or flash."""
    return -(-store_geometry(config)["width"] // 8)


def store_bytes(config: Config, samples: int) -> int:
    """Bytes ``samples`` records take in SPRAM or flash: each word in whole bytes (two 8-bit words share a 16-bit
    SPRAM word)."""
    return samples * store_geometry(config)["stride"] * word_bytes(config)


#: A flash image's header: magic, format version, word width (bits), words per record, records, and the
#: CRC-32 (zlib's) of the records that follow it.
FLASH_MAGIC = b"TFDS"
FLASH_HEADER = struct.Struct("<4sBBHII")


@dataclass(frozen=True)
class FlashPlacement:
    """A data store's records in the board's SPI flash: the image at flash address ``offset``, read at ``clk_hz``."""

    offset: int
    clk_hz: float

    @property
    def records_at(self) -> int:
        """The flash address of record 0 (after the header)."""
        return self.offset + FLASH_HEADER.size


def flash_header(image: bytes) -> dict:
    """The fields of a flash image's header (``ValueError`` if it is not one)."""
    if len(image) < FLASH_HEADER.size:
        raise ValueError(f"{len(image)} bytes are too short for a data set image's {FLASH_HEADER.size}-byte header")
    magic, version, width, stride, samples, crc = FLASH_HEADER.unpack_from(image)
    if magic != FLASH_MAGIC or version != 1:
        raise ValueError("not a trifactor data set image (no TFDS header)")
    return {"width": width, "stride": stride, "samples": samples, "crc32": crc}


def record_bytes(config: Config, x, y) -> bytes:
    """Records of quantised inputs ``x`` and labels ``y`` as bytes: :func:`store_words` in :func:`word_bytes` bytes
    each, little-endian (the flash image's records; the bytes a run's checksum covers)."""
    n = word_bytes(config)
    return b"".join(word.to_bytes(n, "little") for word in store_words(config, x, y))


def flash_image(config: Config, x, y) -> bytes:
    """Records of quantised inputs ``x`` and labels ``y`` as the flash holds them: :data:`FLASH_HEADER`, then
    :func:`record_bytes`."""
    records = record_bytes(config, x, y)
    geometry = store_geometry(config)
    return FLASH_HEADER.pack(FLASH_MAGIC, 1, geometry["width"], geometry["stride"], len(y),
                             zlib.crc32(records)) + records


def store_words(config: Config, x, y) -> list:
    """Records of quantised inputs ``x`` (rows) and labels ``y`` as sample-memory words, label first."""
    mask = (1 << store_geometry(config)["width"]) - 1
    words = []
    for row, label in zip(x, y):
        words.append(int(label))
        words.extend(int(v) & mask for v in row)
    return words


class DataStore(wiring.Component):
    """The sample and order memories of a core that stores up to ``samples`` samples (with ``[training] order =
    "lfsr"``, the LFSR order source instead of the order memory).

    Parameters
    ----------
    config : Config
    samples : int
        Records the sample memory holds (training and test samples together).
    flash : FlashPlacement or None
        The records are in the board's SPI flash there: no sample memory (and no ``sample_*`` ports).

    Members
    -------
    sample_write : Out(WritePort.Signature(addr_width=..., shape=width))
    sample_read : Out(ReadPort.Signature(addr_width=..., shape=width))
        Latency 1 (:attr:`read_latency`). Without ``flash`` only.
    order_write : Out(WritePort.Signature(addr_width=..., shape=range(samples)))
    order_read : Out(ReadPort.Signature(addr_width=..., shape=range(samples)))
        The memories' ports (users take them as ``In(...)``, as a memory's). With ``[training] order =
        "lfsr"`` ``order_write`` seeds the :class:`~hdl.store.lfsr_order.LfsrOrder` and ``order_read`` is its
        stream of indices, ``Out(stream.Signature(range(samples)))``: no order memory. An order memory placed in
        SPRAM (:func:`order_placement`) has one port: it reads while ``order_read.en`` is high and takes a write
        only while it is low, so its reader enables it just for the cycles it reads (a read port's ``en`` is 1
        at rest).
    """

    def __init__(self, config: Config, *, samples: int, flash: FlashPlacement | None = None):
        require_config(self, config)
        if not isinstance(samples, int) or not 1 <= samples < 1 << 24:
            reject(self, f"samples must be an integer in 1..2**24-1, not {samples!r}")
        if flash is not None and not isinstance(flash, FlashPlacement):
            reject(self, f"flash must be a FlashPlacement or None, not {flash!r}")
        if flash is not None and flash.records_at + store_bytes(config, samples) > 1 << 24:
            reject(self, f"{store_bytes(config, samples)} bytes of records from flash address {flash.records_at:#x} "
                         f"pass the flash's 16 MB")
        self._config, self._samples, self.flash = config, samples, flash
        geometry = store_geometry(config)
        self._stride, self._width = geometry["stride"], geometry["width"]
        sample_bits, order_bits = max(1, (self.depth - 1).bit_length()), max(1, (samples - 1).bit_length())
        #: the memories' contents (tests can read them)
        self.sample_data = None if flash else MemoryData(shape=self._width, depth=self.depth, init=[])
        #: None with ``[training] order = "lfsr"``: no order memory
        self.order_data = None if self.lfsr else MemoryData(shape=range(samples), depth=samples, init=[])
        order_read = (stream.Signature(range(samples)) if self.lfsr
                      else ReadPort.Signature(addr_width=order_bits, shape=range(samples)))
        sample_ports = {} if flash else {
            "sample_write": Out(WritePort.Signature(addr_width=sample_bits, shape=self._width)),
            "sample_read": Out(ReadPort.Signature(addr_width=sample_bits, shape=self._width)),
        }
        super().__init__({
            **sample_ports,
            "order_write": Out(WritePort.Signature(addr_width=order_bits, shape=range(samples))),
            "order_read": Out(order_read),
        })

    @property
    def samples(self) -> int:
        return self._samples

    @property
    def lfsr(self) -> bool:
        """Whether the order comes from an LFSR on chip (``[training] order = "lfsr"``), not an order memory."""
        return self._config.order == "lfsr"

    @property
    def stride(self) -> int:
        """Words per record: the label, then the inputs."""
        return self._stride

    @property
    def width(self) -> int:
        return self._width

    @property
    def word_bytes(self) -> int:
        """Whole bytes a word takes in flash (:func:`word_bytes`)."""
        return word_bytes(self._config)

    @property
    def depth(self) -> int:
        """Words of the sample memory."""
        return self._samples * self._stride

    read_latency = 1

    def elaborate(self, platform):
        m = Module()
        if self.flash is None:
            m.submodules.samples = samples = Memory(data=self.sample_data)
            wiring.connect(m, wiring.flipped(self.sample_write), samples.write_port())
            wiring.connect(m, wiring.flipped(self.sample_read), samples.read_port())
        if self.lfsr:
            m.submodules.order = order = LfsrOrder(samples=self._samples)
            wiring.connect(m, wiring.flipped(self.order_write), order.write)
            wiring.connect(m, wiring.flipped(self.order_read), order.o)
            return m
        if order_placement(self._config, self._samples) == "block_ram":
            m.submodules.order = order = Memory(data=self.order_data)
            wiring.connect(m, wiring.flipped(self.order_write), order.write_port())
            wiring.connect(m, wiring.flipped(self.order_read), order.read_port())
            return m
        # one port, as SPRAM has: the read's address while reading (a run's walk), the write's otherwise (ORDER); a
        # write in a read's cycle is dropped. The decoder runs one command at a time, so the two never meet. The
        # choice is the reader's enable (from its state), not the write's (behind the ORDER index's range check):
        # that check then ends at the write enable, not at the SPRAM's address pins
        m.submodules.order = order = Memory(data=self.order_data, attrs={"no_rw_check": 1, SPRAM_ATTR: 1})
        rd, wp = order.read_port(), order.write_port()
        write, read = self.order_write, self.order_read
        addr = Mux(read.en, read.addr, write.addr)
        m.d.comb += [wp.en.eq(write.en & ~read.en), wp.data.eq(write.data), wp.addr.eq(addr), rd.addr.eq(addr),
                     rd.en.eq(read.en), read.data.eq(rd.data)]
        return m
