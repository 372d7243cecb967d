"""The lane banks and the lane multipliers, and who owns them: the MAC array, the update unit or the host."""

from amaranth import Module, Signal
from amaranth.hdl import Array, Cat, Mux, signed
from amaranth.lib import wiring
from amaranth.lib.memory import ReadPort, WritePort
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config

from ..errors import require_config
from .lane_banks import LaneBanks
from .lane_multipliers import LaneMultipliers, share
from ..layout import WeightLayout

__all__ = ["BankArbiter", "host_bank_signature"]


def host_bank_signature(config: Config) -> wiring.Signature:
    """The host's side of the banks (LOAD and READ): one word of one lane at a time.

    While ``own``: ``write`` stores ``data`` at ``addr`` in bank ``lane``; a read of
    ``addr`` shows every lane's word at ``word`` (for ``lane``) ``BankArbiter.read_latency``
    cycles later; ``hold`` keeps it there.
    """
    lay = WeightLayout(config)
    return wiring.Signature({
        "own": Out(1), "addr": Out(lay.addr_width), "lane": Out(range(config.lanes)),
        "write": Out(1), "data": Out(signed(config.weight.width)), "hold": Out(1),
        "word": In(signed(config.weight.width)),
    })


class BankArbiter(wiring.Component):
    """P weight banks (lane ``p`` owns neurons ``j = p mod P``, :mod:`hdl.layout`) and one set of lane multipliers.

    The forward pass and the update never overlap, so the MAC array and the update unit
    share the multipliers (P DSPs, not 2P); ``update`` gives the banks' read and write
    ports and the multipliers to the update unit, else they are the MAC array's. The
    host's ``own`` overrides both for reads; the host writes only when the update unit
    does not. A host read goes through the multipliers (times 1): their registers keep
    the block RAMs' slow output off the lane multiplexer into the reply.

    On dual-port banks (block RAM, :attr:`Config.update_interval` 1) the host's writes wait a
    cycle in registers, so the command decoder's logic is not in front of the banks' write
    ports. Single-port banks (SPRAM) share the port's address with the reads, so there it
    would not help.

    Parameters
    ----------
    config : Config
    init : array (lanes x depth)
        The banks' initial contents (:meth:`WeightLayout.to_banks`).
    output_error : bool
        The output error unit multiplies on the lanes while it emits (``error``, ``error_mul``); default False.

    Members
    -------
    update : In(1)
    forward_read : Out(ReadPort.Signature).array(lanes)
        The MAC array's ``weights``.
    update_read, update_write : Out(ReadPort.Signature / WritePort.Signature).array(lanes)
        The bank ports as the units see them (this side is the memory).
    forward_mul, update_mul : In(LaneMultipliers.port_signature(config))
    host : In(host_bank_signature(config))
    backward : In(1)
        Backpropagating cores: the backward unit owns the read ports and the multipliers
        (inside an update, over ``update``).
    backward_read : Out(ReadPort.Signature).array(lanes)
    backward_mul : In(LaneMultipliers.port_signature(config))
    learn : In(1)
        Rule ``ddfa``: the learned-feedback path owns the read and write ports and the
        multipliers (between a sample's prediction and its update).
    learn_read, learn_write : Out(ReadPort.Signature / WritePort.Signature).array(lanes)
    learn_mul : In(LaneMultipliers.port_signature(config))
    error : In(1), error_mul : In(LaneMultipliers.port_signature(config))
        With ``output_error``: the output error unit owns the multipliers' ``x``, ``en`` and lane 0's ``b`` (over
        every other user but the host; not the banks). Whoever starts the update must wait for it to let them go.
    clearing : Out(1)
        SPRAM banks with ``[network] init = "zero"``: they clear themselves (:class:`LaneBanks`); hold every command.
    """

    def __init__(self, config: Config, *, init, output_error: bool = False):
        require_config(self, config)
        self._config = config
        self._layout = lay = WeightLayout(config)
        shape = signed(config.weight.width)
        #: the banks' storage, in block RAM or SPRAM (:mod:`hdl.lanes.lane_banks`); tests may read ``storage.data``
        self.storage = LaneBanks(config, init=init)
        self.multipliers = LaneMultipliers(config)
        read = ReadPort.Signature(addr_width=lay.addr_width, shape=shape)
        write = WritePort.Signature(addr_width=lay.addr_width, shape=shape)
        members = {
            "update": In(1),
            "forward_read": Out(read).array(config.lanes),
            "update_read": Out(read).array(config.lanes),
            "update_write": Out(write).array(config.lanes),
            "forward_mul": In(LaneMultipliers.port_signature(config)),
            "update_mul": In(LaneMultipliers.port_signature(config)),
            "host": In(host_bank_signature(config)),
        }
        if config.backprop:  # the backward unit's: it reads the old weights during an update
            members.update({"backward": In(1), "backward_read": Out(read).array(config.lanes),
                            "backward_mul": In(LaneMultipliers.port_signature(config))})
        self._output_error = bool(output_error)
        if output_error:
            members.update({"error": In(1), "error_mul": In(LaneMultipliers.port_signature(config))})
        if self.storage.clears:
            members["clearing"] = Out(1)
        if config.rule == "ddfa":  # the learned-feedback path's: it reads the weights and reads and writes B
            members.update({"learn": In(1), "learn_read": Out(read).array(config.lanes),
                            "learn_write": Out(write).array(config.lanes),
                            "learn_mul": In(LaneMultipliers.port_signature(config))})
        super().__init__(members)

    @property
    def read_latency(self) -> int:
        """Cycles from a host read's address to its ``word``: the bank read, then the multipliers."""
        return 1 + LaneMultipliers.latency

    def _operand(self, m, mul, p, word, owners):
        """Lane ``p``'s ``b`` with the balanced pipeline: the bank's ``word`` for the host, else the owner's
        (:func:`share`'s order; on lane 0 the output error unit first, see :meth:`_output_error_owns`), else the MAC
        array's. The MAC array's ``b`` is its read port's data, the same word: it comes last, after the block RAMs'
        slow read and their multiplexer, so it and the word meet the owners' choice (made from registers) in one
        multiplexer, not one per owner (4 LUT levels from the block RAM to lane 0's DSP, 3 with it)."""
        value, owned = owners[-1][0].b[p], owners[-1][1]
        for port, owns in reversed(owners[:-1]):
            value, owned = Mux(owns, port.b[p], value), owned | owns
        if self._output_error and p == 0:
            value, owned = Mux(self.error, self.error_mul.b[0], value), owned | self.error
        m.d.comb += mul.b[p].eq(Mux(self.host.own, word, Mux(owned, value, self.forward_mul.b[p])))

    def _output_error_owns(self, m, mul, *, b=True):
        """While ``error``: the output error unit's ``x``, ``en`` and lane 0's ``b`` (with ``b``, else :meth:`_operand`
        chooses it; and ``transposed`` low), over :func:`share`'s choice (the host's words still go over them). Lane 0
        only: as a :func:`share` owner it would put a multiplexer into every lane's ``b`` (about 140 LUTs on an
        8-lane UP5K core); the other lanes multiply what their user drives, and nobody takes those products."""
        port = self.error_mul
        with m.If(self.error):
            m.d.comb += [mul.x.eq(port.x), mul.en.eq(port.en)]
            if b:
                m.d.comb += mul.b[0].eq(port.b[0])
            if self._config.backprop:
                m.d.comb += mul.transposed.eq(0)
        m.d.comb += port.product.eq(mul.product)

    def elaborate(self, platform):
        m = Module()
        cfg, lanes, host = self._config, self._config.lanes, self.host
        m.submodules.multipliers = mul = self.multipliers
        owners = [(self.update_mul, self.update)]
        if cfg.backprop:
            owners.insert(0, (self.backward_mul, self.backward))
        learn = cfg.rule == "ddfa"
        if learn:
            owners.insert(0, (self.learn_mul, self.learn))
        # balanced: each lane's b is chosen in one place (_operand), the bank's word in one multiplexer
        late_word = cfg.pipeline == "balanced"
        share(m, mul, self.forward_mul, *owners, b=not late_word)
        if self._output_error:
            self._output_error_owns(m, mul, b=not late_word)

        wr = Signal(self._layout.addr_width, name="wr_addr")
        wr_data, wr_en = Signal(signed(cfg.weight.width)), Signal(lanes)
        host_write = [wr.eq(host.addr), wr_data.eq(host.data),
                      wr_en.eq(Cat(host.write & (host.lane == p) for p in range(lanes)))]
        m.d["sync" if cfg.update_interval == 1 else "comb"] += host_write
        m.submodules.storage = storage = self.storage
        if storage.clears:
            m.d.comb += self.clearing.eq(storage.clearing)
        for p in range(lanes):
            rd, wp = storage.read[p], storage.write[p]
            fwd, upd = self.forward_read[p], self.update_read[p]
            addr, en = Mux(self.update, upd.addr, fwd.addr), Mux(self.update, upd.en, fwd.en)
            if cfg.backprop:
                bwd = self.backward_read[p]
                addr, en = Mux(self.backward, bwd.addr, addr), Mux(self.backward, bwd.en, en)
                m.d.comb += bwd.data.eq(rd.data)
            writer, wr_addr, wr_value, wr_write = self.update, self.update_write[p].addr, self.update_write[p].data, \
                self.update_write[p].en
            if learn:
                lrd, lwr = self.learn_read[p], self.learn_write[p]
                addr, en = Mux(self.learn, lrd.addr, addr), Mux(self.learn, lrd.en, en)
                writer = self.update | self.learn
                wr_addr, wr_value = Mux(self.learn, lwr.addr, wr_addr), Mux(self.learn, lwr.data, wr_value)
                wr_write = Mux(self.learn, lwr.en, wr_write)
                m.d.comb += lrd.data.eq(rd.data)
            m.d.comb += [
                rd.addr.eq(Mux(host.own, host.addr, addr)), rd.en.eq(Mux(host.own, ~host.hold, en)),
                fwd.data.eq(rd.data), upd.data.eq(rd.data),
                # the update unit writes only during an update (and its drain), the host never then
                wp.addr.eq(Mux(writer, wr_addr, wr)),
                wp.data.eq(Mux(writer, wr_value, wr_data)),
                wp.en.eq(Mux(writer, wr_write, wr_en[p])),
            ]
            if late_word:
                self._operand(m, mul, p, rd.data, owners)
            else:
                with m.If(host.own):
                    m.d.comb += mul.b[p].eq(rd.data)
        with m.If(host.own):  # times 1
            m.d.comb += [mul.x.eq(1), mul.en.eq(1)]
        m.d.comb += host.word.eq(Array(mul.product[p][:cfg.weight.width] for p in range(lanes))[host.lane])
        return m
