"""One CRC unit for the host link's two directions (:mod:`hdl.link.frames`: CRC-16/CCITT-FALSE)."""

from amaranth import Module
from amaranth.hdl import Mux
from amaranth.lib import wiring
from amaranth.lib.crc.catalog import CRC16_CCITT_FALSE
from amaranth.lib.wiring import In, Out

__all__ = ["CrcSignature", "SharedCrc"]

#: A client's side of the CRC unit: ``start`` a frame, feed ``data`` while ``valid``; ``crc`` and
#: ``match`` (the register holds the residue: the bytes fed end in their own correct CRC) follow
#: one cycle later. A client holds ``start`` and ``valid`` low while the other one uses the unit.
CrcSignature = wiring.Signature({"start": Out(1), "valid": Out(1), "data": Out(8), "crc": In(16), "match": In(1)})


class SharedCrc(wiring.Component):
    """``amaranth.lib.crc``'s CRC-16/CCITT-FALSE processor, shared by two clients that take turns.

    The host link receives a request and sends its reply one after the other, never both
    at once, so one CRC register serves both. ``b``'s byte is taken while ``b.valid``,
    ``a``'s otherwise.

    Members
    -------
    a, b : In(CrcSignature)
        The clients (the deframer and the reply framer).
    """

    a: In(CrcSignature)
    b: In(CrcSignature)

    @property
    def latency(self) -> int:
        """Cycles from a byte fed to ``crc`` and ``match`` including it."""
        return 1

    def elaborate(self, platform):
        m = Module()
        m.submodules.crc = crc = CRC16_CCITT_FALSE(data_width=8).create()
        m.d.comb += [crc.start.eq(self.a.start | self.b.start), crc.valid.eq(self.a.valid | self.b.valid),
                     crc.data.eq(Mux(self.b.valid, self.b.data, self.a.data))]
        for client in (self.a, self.b):
            m.d.comb += [client.crc.eq(crc.crc), client.match.eq(crc.match_detected)]
        return m
