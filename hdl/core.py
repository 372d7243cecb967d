"""The learner core: forward, output error, feedback and update of every layer, one sample at a time.

It strings the four datapath units together around P lane weight banks, an activation
memory (every layer's input, kept for the update) and an ``f'`` memory, behind the word
protocol of :mod:`hdl.protocol`. The result of every sample equals
``golden.fixed_model.FixedNet.train_sample`` bit for bit.

Per TRAIN sample:

1. load the inputs into the activation memory;
2. forward, layer by layer: the sweeper reads each layer input once per neuron group
   and feeds the MAC array (P MACs per cycle); the serialiser writes the P results of a
   group to the activation and ``f'`` memories (hidden layers) or, for the output layer,
   feeds the output error unit and the argmax;
3. the output errors go to the feedback unit (to the core's own error registers when
   there is no hidden layer); the prediction is sent;
4. update, last layer first: per neuron group the delta provider shifts P deltas in from
   the feedback unit (the output layer's are the errors themselves), then the sweeper
   reads the layer input again and feeds the update unit (P weights per cycle).
"""

from amaranth import Module, Signal
from amaranth.hdl import Array, C, Cat, Mux, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config
from trifactor.golden.fixed_model import FixedNet

from .errors import reject, require_hardware
from .feedback_unit import FeedbackUnit
from .lane_multipliers import LaneMultipliers, share
from .layout import WeightLayout
from .mac_array import MacArray
from .output_error import OutputErrorUnit
from .protocol import ACK, COUNTER_BITS, COUNTER_NAMES, ERROR, Header, Op, Position
from .update_unit import UpdateUnit

__all__ = ["LearnerCore"]


class LearnerCore(wiring.Component):
    """An on-chip SSDFA learner for ``config``, its weights initialised as golden's ``FixedNet(config, seed)``.

    Members
    -------
    i : In(stream.Signature(unsigned(32)))
        Command words (see :mod:`hdl.protocol`).
    o : Out(stream.Signature(unsigned(32)))
        Reply words.
    """

    def __init__(self, config: Config, *, seed: int = 0):
        if not isinstance(config, Config):
            reject(self, f"config must be a Config, not {config!r}")
        require_hardware(self, config)
        self._config = config
        self.layout = WeightLayout(config)
        self.init_weights = FixedNet(config, seed).weights
        self.init_banks = self.layout.to_banks(self.init_weights)
        sizes = config.sizes
        # activation memory: the input of layer l at act_base[l]; f' of hidden layer l at fp_base[l]
        self.act_base = [sum(sizes[:l]) for l in range(config.n_layers)]
        self.act_depth = sum(sizes[:-1])
        self.fp_base = [sum(sizes[1:l + 1]) for l in range(config.n_layers - 1)]
        self.fp_depth = max(1, sum(sizes[1:-1]))
        # forward and update never overlap: the two units share one multiplier per lane
        self.multipliers = LaneMultipliers(config)
        self.mac = MacArray(config, multipliers="external")
        self.update = UpdateUnit(config, multipliers="external")
        self.error = OutputErrorUnit(config)
        self.feedback = FeedbackUnit(config) if config.n_layers > 1 else None
        super().__init__({"i": In(stream.Signature(unsigned(32))), "o": Out(stream.Signature(unsigned(32)))})

    @property
    def config(self) -> Config:
        return self._config

    def elaborate(self, platform):
        m = Module()
        cfg, lay = self._config, self.layout
        n_layers, lanes, sizes = cfg.n_layers, cfg.lanes, cfg.sizes
        m.submodules.mac, m.submodules.update, m.submodules.error = self.mac, self.update, self.error
        m.submodules.multipliers = self.multipliers
        if self.feedback is not None:
            m.submodules.feedback = self.feedback
        mac, upd, err, fb = self.mac, self.update, self.error, self.feedback

        x_width = max(spec.x.width for spec in cfg.layers)
        # no bank address is ever read in the cycle it is written (the update unit's rule; LOAD
        # ignores what it reads): no_rw_check spares Yosys's read-during-write emulation,
        # 40-odd flip-flops and 30 LUTs per bank on the iCE40
        banks = [Memory(shape=signed(cfg.weight.width), depth=lay.depth, init=self.init_banks[p].tolist(),
                        attrs={"no_rw_check": 1})
                 for p in range(lanes)]
        # each layer input as a list of (index, value) entries: every element, or only the
        # non-zero ones when skipping zeros; the sweeps walk the list
        index_width = max(1, (max(spec.n_in for spec in cfg.layers) - 1).bit_length())
        entry = data.StructLayout({"i": unsigned(index_width), "x": signed(x_width)})
        # no_rw_check: a read of an entry being written is never used (the sweeper reads only
        # entries below ``fill``; f' is read after the forward pass). ram_style: a block RAM,
        # not one flip-flop per f' and a read multiplexer over them all
        acts = Memory(shape=entry, depth=self.act_depth, init=[], attrs={"no_rw_check": 1})
        fps = Memory(shape=1, depth=self.fp_depth, init=[], attrs={"no_rw_check": 1, "ram_style": "block"})
        for p, bank in enumerate(banks):
            m.submodules[f"bank{p}"] = bank
        m.submodules.acts, m.submodules.fps = acts, fps
        bank_rd = [bank.read_port() for bank in banks]
        bank_wr = [bank.write_port() for bank in banks]
        act_rd, act_wr = acts.read_port(), acts.write_port()
        fp_rd, fp_wr = fps.read_port(), fps.write_port()

        # per-layer constants, indexed by a layer signal
        n_in = Array(spec.n_in for spec in cfg.layers)
        groups = Array(lay.groups(l) for l in range(n_layers))
        last_lanes = Array(spec.n_out - (lay.groups(l) - 1) * lanes for l, spec in enumerate(cfg.layers))
        w_base = Array(lay.base(l) for l in range(n_layers))
        act_base = Array(self.act_base)
        x_one = Array(spec.x.one for spec in cfg.layers)

        # -- state shared by the controller ------------------------------------------------
        op = Signal(4)
        label = Signal(range(cfg.n_classes))
        count = Signal(16)                     # words LOAD / READ still move
        tick = Signal(range(max(cfg.n_classes, 2 * len(COUNTER_NAMES), 4)))  # position in the errors, counter words or drain cycles
        fwd_layer = Signal(range(n_layers))
        upd_layer = Signal(range(n_layers))
        in_update = Signal()                   # bank read ports belong to the update unit
        host_banks = Signal()                  # bank ports belong to the host (LOAD / READ)
        # the output errors: kept by the feedback unit, which returns them as the output layer's
        # deltas; without a hidden layer, here, in class order, shifting towards errors[0] (no
        # read multiplexer or write decoder: the delta provider shifts them out lane by lane)
        errors = [Signal(signed(cfg.error.width), name=f"e{c}") for c in range(cfg.n_classes)] if fb is None else []
        prediction = Signal(range(cfg.n_classes))
        best = Signal(signed(cfg.act.width))
        # 48 bits: 68 days of cycles at 48 MHz (the protocol sends 64, the top 16 zero)
        counters = {name: Signal(COUNTER_BITS, name=name) for name in COUNTER_NAMES}

        # -- the sweeper: one layer input entry per cycle, to the MAC array or the update unit --
        skipping = cfg.zero_skipping
        fill = Array(Signal(range(spec.n_in + 1), name=f"fill{l}") for l, spec in enumerate(cfg.layers))
        loaded = Signal(range(sizes[0] + 1))   # inputs of this sample received so far
        ser_layer = Signal(range(n_layers + 1))  # the layer whose outputs the serialiser is writing
        sw_run, sw_upd = Signal(), Signal()
        sw_layer = Signal(range(n_layers))
        sw_group = Signal(range(max(groups)))
        sw_k = Signal(range(max(n_in) + 1))    # position in the layer input's list
        sw_gbase = Signal(lay.addr_width)      # weight address of the group's input 0
        rd_valid, rd_upd, rd_bias = Signal(), Signal(), Signal()
        rd_layer = Signal(range(n_layers))
        rd_gbase = Signal(lay.addr_width)
        rd_lanes = Signal(range(lanes + 1))
        rd_first = Signal()                    # an update group's first element

        # the issue stage: one register between the activation memory and the units, so no
        # RAM output drives the weight address adder or its fan-out to every bank directly
        is_valid, is_upd, is_last = Signal(), Signal(), Signal()
        is_layer = Signal(range(n_layers))
        is_x = Signal(signed(x_width))
        is_gbase, is_index = Signal(lay.addr_width), Signal(range(max(n_in) + 1))
        is_addr = Signal(lay.addr_width)
        m.d.comb += is_addr.eq(is_gbase + is_index)
        is_lanes = Signal(range(lanes + 1))

        # the deltas: the provider shifts a group's P deltas into ``pending``; they move to
        # ``deltas``, which the update unit multiplies by, as the group's first element enters
        # the issue stage, the edge at which the previous group's last element leaves it. So
        # no copy of the deltas travels down the pipeline.
        pending = [Signal(signed(cfg.error.width), name=f"pending{p}") for p in range(lanes)]
        deltas = [Signal(signed(cfg.error.width), name=f"d{p}") for p in range(lanes)]
        pending_ready = Signal()    # pending holds the next group's deltas
        pending_claimed = Signal()  # the group's first element is issued; pending waits to move

        down_ready = Mux(is_upd, 1, mac.i.ready)
        advance = ~is_valid | down_ready  # every sweeper stage moves together
        group_start = sw_k == 0
        last_group = sw_group == groups[sw_layer] - 1
        group_lanes_now = Mux(last_group, last_lanes[sw_layer], lanes)
        # A forward sweep runs right behind whoever fills its input list: the loader (layer 0)
        # or the serialiser (the previous layer's outputs). The bias input (1.0) comes last,
        # once the list is complete.
        have_entry = sw_k < fill[sw_layer]
        complete = Mux(sw_layer == 0, loaded == sizes[0], ser_layer >= sw_layer)
        at_bias = ~have_entry & complete
        pending_zero = Signal()  # registered as the provider finishes: no wide OR in the sweeper's control
        skip_group = (sw_run & sw_upd & group_start & pending_ready & pending_zero) if skipping else C(0, 1)
        can_issue = sw_run & (have_entry | at_bias) & (~sw_upd | ~group_start | pending_ready) & ~skip_group
        end_group = (can_issue & at_bias) | skip_group
        m.d.comb += [act_rd.addr.eq(act_base[sw_layer] + sw_k), act_rd.en.eq(advance)]
        done_step = Signal(range(lanes + 1))
        skipped_step = Signal(range((max(n_in) + 1) * lanes + 1))
        # the skipped inputs and lanes wait in registers: no control path into the multiplier
        skipped_inputs, skipped_lanes = Signal(range(max(n_in) + 2)), Signal(range(lanes + 1))
        m.d.sync += [done_step.eq(0), skipped_inputs.eq(0), skipped_step.eq(skipped_inputs * skipped_lanes)]
        rd_payload = [rd_upd.eq(sw_upd), rd_bias.eq(at_bias), rd_layer.eq(sw_layer), rd_gbase.eq(sw_gbase),
                      rd_lanes.eq(group_lanes_now), rd_first.eq(sw_upd & group_start)]
        with m.If(advance):
            m.d.sync += rd_valid.eq(can_issue)
            if cfg.pipeline == "fast":
                # the payload loads on every move (it only counts with rd_valid): can_issue, a
                # long path from ``fill``, enables only rd_valid, sw_k and the delta hand-over
                # (on the iCE40, "compact", this takes more logic cells)
                m.d.sync += rd_payload
            with m.If(can_issue):
                if cfg.pipeline != "fast":
                    m.d.sync += rd_payload
                m.d.sync += sw_k.eq(sw_k + 1)
                with m.If(sw_upd & group_start):
                    m.d.sync += [pending_ready.eq(0), pending_claimed.eq(1)]
            with m.If(end_group):
                m.d.sync += [sw_k.eq(0), sw_gbase.eq(sw_gbase + n_in[sw_layer] + 1)]
                with m.If(last_group):
                    m.d.sync += sw_run.eq(0)
                with m.Else():
                    m.d.sync += sw_group.eq(sw_group + 1)
                # MACs a dense schedule would have done here: skipped inputs, or the whole group
                m.d.sync += [skipped_inputs.eq(Mux(skip_group, n_in[sw_layer] + 1, n_in[sw_layer] - fill[sw_layer])),
                             skipped_lanes.eq(group_lanes_now)]
            with m.If(skip_group):  # a group of zero deltas is not swept
                m.d.sync += pending_ready.eq(0)
        entry_now = entry(act_rd.data)
        with m.If(advance):
            m.d.sync += [is_valid.eq(rd_valid), is_upd.eq(rd_upd), is_last.eq(rd_bias), is_layer.eq(rd_layer),
                         is_x.eq(Mux(rd_bias, x_one[rd_layer], entry_now.x)),
                         is_gbase.eq(rd_gbase), is_index.eq(Mux(rd_bias, n_in[rd_layer], entry_now.i)),
                         is_lanes.eq(rd_lanes)]
            with m.If(rd_valid & rd_first):
                m.d.sync += [d.eq(pd) for d, pd in zip(deltas, pending)]
                m.d.sync += pending_claimed.eq(0)
        m.d.comb += [
            mac.i.valid.eq(is_valid & ~is_upd),
            mac.i.payload.x.eq(is_x), mac.i.payload.addr.eq(is_addr),
            mac.i.payload.layer.eq(is_layer), mac.i.payload.last.eq(is_last),
            upd.i.valid.eq(is_valid & is_upd),
            upd.i.payload.x.eq(is_x), upd.i.payload.addr.eq(is_addr), upd.i.payload.layer.eq(is_layer),
        ]
        m.d.comb += [upd.i.payload.d[p].eq(deltas[p]) for p in range(lanes)]
        with m.If(is_valid & down_ready):
            m.d.sync += done_step.eq(is_lanes)
        # the wide counters add a registered step: their carry chains start at a flip-flop
        m.d.sync += [counters["macs_done"].eq(counters["macs_done"] + done_step),
                     counters["macs_skipped"].eq(counters["macs_skipped"] + skipped_step)]

        def start_sweep(layer, update):
            return [sw_run.eq(1), sw_upd.eq(update), sw_layer.eq(layer), sw_group.eq(0), sw_k.eq(0),
                    sw_gbase.eq(w_base[layer])]

        # -- bank ports and lane multipliers: MAC array (forward), update unit (update) or host --
        share(m, self.multipliers, mac.mul, upd.mul, second_owns=in_update)
        # READ takes the bank word through the multipliers (times 1): their registers keep the
        # RAMs' slow output off the lane multiplexer into the reply
        with m.If(host_banks):
            m.d.comb += [self.multipliers.x.eq(1), self.multipliers.en.eq(1)]
        host_addr = Signal(lay.addr_width)
        host_lane = Signal(range(lanes))
        host_write, host_data = Signal(), Signal(signed(cfg.weight.width))
        # LOAD's writes: with "fast" they wait a cycle in registers, so the controller's
        # decode is not in front of the banks' write ports (the update's subtraction is)
        wr_addr, wr_data = Signal(lay.addr_width), Signal(signed(cfg.weight.width))
        wr_en = Signal(lanes)
        host_wr = [wr_addr.eq(host_addr), wr_data.eq(host_data), wr_en.eq(Cat(host_write & (host_lane == p) for p in range(lanes)))]
        if cfg.pipeline == "fast":
            m.d.sync += host_wr
        else:
            m.d.comb += host_wr
        for p in range(lanes):
            m.d.comb += [
                bank_rd[p].addr.eq(Mux(host_banks, host_addr, Mux(in_update, upd.read[p].addr, mac.weights[p].addr))),
                bank_rd[p].en.eq(Mux(host_banks, 1, Mux(in_update, upd.read[p].en, mac.weights[p].en))),
                mac.weights[p].data.eq(bank_rd[p].data), upd.read[p].data.eq(bank_rd[p].data),
                # the update unit writes only during an update (and its drain), the host never then
                bank_wr[p].addr.eq(Mux(in_update, upd.write[p].addr, wr_addr)),
                bank_wr[p].data.eq(Mux(in_update, upd.write[p].data, wr_data)),
                bank_wr[p].en.eq(Mux(in_update, upd.write[p].en, wr_en[p])),
            ]

        # -- the serialiser: a MAC group's P results, one per cycle, to memory or the output error unit --
        ser_busy = Signal()
        # the lanes leave through a shift register towards lane 0: no multiplexer in front of
        # the argmax and the output error unit (on the iCE40 no more logic cells than the loads)
        ser_h = [Signal(signed(cfg.act.width), name=f"ser_h{p}", reset_less=True) for p in range(lanes)]
        ser_fp = [Signal(name=f"ser_fp{p}", reset_less=True) for p in range(lanes)]
        ser_p = Signal(range(lanes))
        ser_lanes = Signal(range(lanes + 1))
        ser_group = Signal(range(max(groups)))
        ser_fptr = Signal(range(self.fp_depth + 1))
        out_index = Signal(range(cfg.n_classes + 1))
        training = op == Op.TRAIN
        m.d.comb += mac.o.ready.eq(~ser_busy)
        with m.If(mac.o.valid & ~ser_busy):
            m.d.sync += [ser_busy.eq(1), ser_p.eq(0),
                         ser_lanes.eq(Mux(ser_group == groups[ser_layer] - 1, last_lanes[ser_layer], lanes))]
            m.d.sync += [ser_h[p].eq(mac.o.payload.h[p]) for p in range(lanes)]
            m.d.sync += [ser_fp[p].eq(mac.o.payload.fprime[p]) for p in range(lanes)]
        output_layer = ser_layer == n_layers - 1
        y = ser_h[0]
        step = Signal()  # this cycle's lane leaves the serialiser
        m.d.comb += [err.i.payload.y.eq(y), err.i.payload.label.eq(label)]
        with m.If(ser_busy):
            with m.If(~output_layer):
                target = ser_layer + 1
                keep = (y != 0) if cfg.zero_skipping else 1
                m.d.comb += [act_wr.addr.eq(act_base[target] + fill[target]), act_wr.en.eq(keep),
                             fp_wr.addr.eq(ser_fptr), fp_wr.data.eq(ser_fp[0]), fp_wr.en.eq(1), step.eq(1)]
                m.d.comb += [act_wr.data.i.eq(ser_group * lanes + ser_p), act_wr.data.x.eq(y)]
                with m.If(keep):
                    m.d.sync += fill[target].eq(fill[target] + 1)
                m.d.sync += ser_fptr.eq(ser_fptr + 1)
            with m.Else():
                m.d.comb += err.i.valid.eq(training)
                m.d.comb += step.eq(Mux(training, err.i.ready, 1))
                with m.If(step):
                    with m.If((out_index == 0) | (y > best)):  # the first maximum wins
                        m.d.sync += [best.eq(y), prediction.eq(out_index)]
                    m.d.sync += out_index.eq(out_index + 1)
            with m.If(step):
                m.d.sync += ser_p.eq(ser_p + 1)
                with m.If(ser_p == ser_lanes - 1):
                    m.d.sync += ser_busy.eq(0)
                    with m.If(ser_group == groups[ser_layer] - 1):
                        m.d.sync += [ser_group.eq(0), ser_layer.eq(ser_layer + 1)]
                    with m.Else():
                        m.d.sync += ser_group.eq(ser_group + 1)
        with m.If(step):  # outside the If above, so that Yosys sees one enable (load or step)
            m.d.sync += [ser_h[p].eq(ser_h[p + 1]) for p in range(lanes - 1)]
            m.d.sync += [ser_fp[p].eq(ser_fp[p + 1]) for p in range(lanes - 1)]

        # -- the delta provider: the next group's P deltas, prepared while the current group updates --
        # It shifts P values into ``pending`` from the top lane down: the group's deltas from the
        # feedback unit in neuron order (the output layer's are its error rows), then zeros for
        # the lanes past the layer; without a feedback unit, the errors shifted out of ``errors``.
        pv_run, pv_busy = Signal(), Signal()           # groups left to prepare / preparing one now
        pv_layer = Signal(range(n_layers))
        pv_group = Signal(range(max(groups)))
        pv_shifts = Signal(range(lanes + 1))           # shifts of this group still to do
        pv_zeros = Signal(range(lanes + 1))            # the last ones shift in 0
        # both decided a shift ahead, in registers: no comparison between ``shifting`` and its uses
        pv_in_zeros, pv_last = Signal(), Signal()      # this shift is a 0 / the group's last
        pv_lanes = Mux(pv_group == groups[pv_layer] - 1, last_lanes[pv_layer], lanes)
        shift_in, shifting = Signal(signed(cfg.error.width)), Signal()
        error_in, shift_errors = Signal(signed(cfg.error.width)), Signal()

        def next_group():  # the provider's order is the sweeper's: last layer first, groups in order
            return [
                pv_group.eq(Mux(pv_group == groups[pv_layer] - 1, 0, pv_group + 1)),
                pv_layer.eq(Mux(pv_group == groups[pv_layer] - 1, pv_layer - 1, pv_layer)),
                pv_run.eq(~((pv_group == groups[pv_layer] - 1) & (pv_layer == 0))),
            ]

        with m.If(pv_run & ~pv_busy & ~pending_ready & ~pending_claimed):
            m.d.sync += [pv_busy.eq(1), pv_shifts.eq(lanes), pv_zeros.eq(lanes - pv_lanes),
                         pv_in_zeros.eq(pv_lanes == 0), pv_last.eq(int(lanes == 1))]
        with m.If(pv_busy):
            if fb is None:
                m.d.comb += [shift_in.eq(errors[0]), shifting.eq(1), shift_errors.eq(1)]
            else:
                with m.If(pv_in_zeros):
                    m.d.comb += shifting.eq(1)
                with m.Else():
                    m.d.comb += [shift_in.eq(fb.o.payload), shifting.eq(fb.o.valid)]
        with m.If(shifting):
            m.d.sync += [lane.eq(above) for lane, above in zip(pending, pending[1:] + [shift_in])]
            m.d.sync += [pv_shifts.eq(pv_shifts - 1), pv_in_zeros.eq(pv_shifts - 1 <= pv_zeros),
                         pv_last.eq(pv_shifts == 2)]
            with m.If(pv_last):
                m.d.sync += [pending_ready.eq(1), pv_busy.eq(0), *next_group()]
                m.d.sync += pending_zero.eq(~Cat(*[d != 0 for d in pending[1:] + [shift_in]]).any())
        if fb is None:
            with m.If(shift_errors):
                m.d.sync += [e.eq(after) for e, after in zip(errors, errors[1:] + [error_in])]

        if fb is not None:  # f' and the feedback (or error) rows of the group's neurons, one request a cycle
            fp_base = Array([*self.fp_base, 0])  # the output layer's error rows need no f'
            row_base = Array([*(fb.row_base(l) for l in range(n_layers - 1)), fb.error_base])
            neuron_bits = range(max(sizes[1:]) + 1)
            pv_req, pv_end = Signal(neuron_bits), Signal(neuron_bits)   # hidden neurons still to request
            with m.If(pv_run & ~pv_busy & ~pending_ready & ~pending_claimed):
                m.d.sync += [pv_req.eq(pv_group * lanes), pv_end.eq(pv_group * lanes + pv_lanes)]
            pv_rd_valid = Signal()
            pv_rd_row = Signal(range(fb.rows + 1))
            requesting = pv_busy & (pv_req < pv_end)
            m.d.comb += [fp_rd.addr.eq(fp_base[pv_layer] + pv_req), fp_rd.en.eq(1)]
            m.d.sync += [pv_rd_valid.eq(requesting), pv_rd_row.eq(row_base[pv_layer] + pv_req)]
            with m.If(requesting):
                m.d.sync += pv_req.eq(pv_req + 1)
            m.d.comb += [fb.i.valid.eq(pv_rd_valid), fb.i.payload.row.eq(pv_rd_row),
                         fb.i.payload.fprime.eq(fp_rd.data), fb.o.ready.eq(1)]

        def next_bank_word(after_last, next_address=None):
            """LOAD and READ walk the banks from their position, lane by lane within an address."""
            m.d.sync += [host_lane.eq(host_lane + 1), count.eq(count - 1)]
            with m.If(count == 1):
                m.d.sync += host_banks.eq(0)
                m.next = after_last
            with m.Elif(host_lane == lanes - 1):
                m.d.sync += [host_lane.eq(0), host_addr.eq(host_addr + 1)]
                if next_address:
                    m.next = next_address

        # -- the controller -------------------------------------------------------------------
        word = self.i.payload
        busy_sample = Signal()
        # "errors" state as a flip-flop: the output error unit's ready drives its score ring's
        # enables, too far a path from a decode of the controller's state
        taking_errors = Signal()
        m.d.comb += err.o.ready.eq(taking_errors)
        with m.If(busy_sample):
            m.d.sync += counters["cycles"].eq(counters["cycles"] + 1)
        with m.FSM():
            with m.State("idle"):
                m.d.comb += self.i.ready.eq(1)
                with m.If(self.i.valid):
                    m.d.sync += [op.eq(Header(word).op), label.eq(Header(word).arg), tick.eq(0)]
                    with m.Switch(Header(word).op):
                        with m.Case(Op.TRAIN, Op.INFER):
                            m.d.sync += [busy_sample.eq(1), loaded.eq(0), fwd_layer.eq(0), ser_layer.eq(0),
                                         ser_group.eq(0), ser_fptr.eq(0), out_index.eq(0), *start_sweep(0, 0)]
                            m.d.sync += [f.eq(0) for f in fill]
                            m.next = "load_inputs"
                        with m.Case(Op.LOAD, Op.READ):
                            m.d.sync += count.eq(Header(word).arg)  # words to move
                            m.next = "position"
                        with m.Case(Op.COUNTERS):
                            m.next = "counters"
                        with m.Default():
                            m.next = "error"

            with m.State("load_inputs"):
                m.d.comb += self.i.ready.eq(1)
                with m.If(self.i.valid):
                    value = word[:cfg.input.width].as_signed()  # the input format's bits, sign-extended into the entry
                    keep = (value != 0) if cfg.zero_skipping else 1
                    m.d.comb += [act_wr.addr.eq(fill[0]), act_wr.data.i.eq(loaded), act_wr.data.x.eq(value),
                                 act_wr.en.eq(keep)]
                    m.d.sync += loaded.eq(loaded + 1)
                    with m.If(keep):
                        m.d.sync += fill[0].eq(fill[0] + 1)
                    with m.If(loaded == sizes[0] - 1):
                        m.next = "forward"

            with m.State("forward"):
                # a layer's sweep starts as soon as the previous one has issued its last element
                with m.If(~sw_run & (fwd_layer < n_layers - 1)):
                    m.d.sync += [fwd_layer.eq(fwd_layer + 1), *start_sweep(fwd_layer + 1, 0)]
                with m.If(~sw_run & (ser_layer == n_layers)):  # every score has left the serialiser
                    m.d.sync += tick.eq(0)
                    with m.If(training):
                        m.d.sync += taking_errors.eq(1)
                        m.next = "errors"
                    with m.Else():
                        m.next = "prediction"

            with m.State("errors"):
                if fb is not None:
                    m.d.comb += [fb.e.valid.eq(err.o.valid), fb.e.payload.eq(err.o.payload)]
                m.d.comb += [shift_errors.eq(err.o.valid), error_in.eq(err.o.payload)]
                with m.If(err.o.valid):
                    m.d.sync += tick.eq(tick + 1)
                    with m.If(tick == cfg.n_classes - 1):
                        m.d.sync += taking_errors.eq(0)
                        m.next = "prediction"

            with m.State("prediction"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(prediction)]
                with m.If(self.o.ready):
                    with m.If(training):
                        m.d.sync += [upd_layer.eq(n_layers - 1), in_update.eq(1), *start_sweep(n_layers - 1, 1),
                                     pv_run.eq(1), pv_layer.eq(n_layers - 1), pv_group.eq(0)]
                        m.next = "update"
                    with m.Else():
                        m.next = "done"

            with m.State("update"):
                with m.If(~sw_run & ~rd_valid & ~is_valid):
                    with m.If(upd_layer == 0):
                        m.d.sync += tick.eq(0)
                        m.next = "drain"
                    with m.Else():
                        m.d.sync += [upd_layer.eq(upd_layer - 1), *start_sweep(upd_layer - 1, 1)]

            with m.State("drain"):  # the update unit's last writes land before anything reads the banks
                m.d.sync += tick.eq(tick + 1)
                with m.If(tick == 3):
                    m.d.sync += in_update.eq(0)
                    m.next = "done"

            with m.State("done"):
                m.d.sync += busy_sample.eq(0)
                with m.If(training):
                    m.d.sync += counters["samples"].eq(counters["samples"] + 1)
                m.next = "idle"

            with m.State("position"):  # where LOAD / READ start: bank address and lane
                m.d.comb += self.i.ready.eq(1)
                with m.If(self.i.valid):
                    m.d.sync += [host_addr.eq(Position(word).address), host_lane.eq(Position(word).lane)]
                    with m.If(count == 0):
                        m.next = "error"
                    with m.Else():
                        m.d.sync += host_banks.eq(1)
                        with m.If(op == Op.LOAD):
                            m.next = "load_weights"
                        with m.Else():
                            m.next = "read_address"

            with m.State("load_weights"):
                m.d.comb += self.i.ready.eq(1)
                with m.If(self.i.valid):
                    m.d.comb += [host_write.eq(1), host_data.eq(word[:cfg.weight.width])]
                    next_bank_word(after_last="ack")

            with m.State("ack"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(ACK)]
                with m.If(self.o.ready):
                    m.next = "idle"

            with m.State("read_address"):  # the bank read of host_addr happens at this edge
                m.next = "read_operands"

            with m.State("read_operands"):  # the multipliers' operand registers take the words
                m.next = "read_products"

            with m.State("read_products"):  # and their product registers, 1 * word
                m.next = "read_words"

            with m.State("read_words"):
                bank_word = Array(self.multipliers.product[p][:cfg.weight.width] for p in range(lanes))[host_lane]
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(bank_word.as_unsigned()),
                             *[bank_rd[p].en.eq(0) for p in range(lanes)]]  # hold the word being sent
                with m.If(self.o.ready):
                    next_bank_word(after_last="idle", next_address="read_address")

            with m.State("counters"):
                values = Array(v for name in COUNTER_NAMES for v in (counters[name][:32], counters[name][32:]))
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(values[tick])]
                with m.If(self.o.ready):
                    m.d.sync += tick.eq(tick + 1)
                    with m.If(tick == 2 * len(COUNTER_NAMES) - 1):
                        m.next = "idle"

            with m.State("error"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(ERROR | op)]
                with m.If(self.o.ready):
                    m.next = "idle"
        return m
