"""The pass sequencer: one sample's passes in order (forward, output error, error path, update)."""

from amaranth import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config

from ..errors import require_config
from ..layout import sweeps_backward
from .sweeper import sweep_layout

__all__ = ["PassSequencer"]


class PassSequencer(wiring.Component):
    """Runs a TRAIN or INFER sample through the passes, starting each unit's part of it.

    1. forward: layer 0's sweep starts with the sample (it runs behind the loader), each
       next layer's as soon as the previous one has issued its last element;
    2. once every score has left the serialiser: the prediction on ``prediction``;
    3. when training, after the prediction is taken: the update, last layer first (the
       delta provider starts with it; its first groups wait in the error path for the
       output error unit's errors), each layer's sweep once the previous has left the
       sweeper; then ``drain_cycles`` cycles for the update unit's last writes, while the
       update still owns the banks. On a backpropagation sample (``backprop``) every layer
       but the first is swept backward before its update (:func:`hdl.layout.sweeps_backward`),
       and the backward unit keeps the banks and multipliers (``backward``) for
       ``backward_drain`` cycles after its sweep. A learned-feedback core (rule ``ddfa``) first
       gives the banks to its error path (``learn``) until it has ``learned``.

    Parameters
    ----------
    config : Config
    update_latency : int
        The update unit's cycles from a transfer to its write (``UpdateUnit.latency``).
    backward_drain : int
        Backpropagating cores: ``BackwardUnit.owns_multipliers``.
    scored_wait : int
        Cycles from seeing ``written == n_layers`` to reading ``scored``, at least 1 (the serialiser's
        ``prediction_delay``, or 1); each cycle above 1 is a cycle more on an INFER sample (a TRAIN sample's
        update waits for the output errors longer than that).

    Members
    -------
    start : In(stream.Signature(StructLayout({"train": 1}), always_ready=True))
        A sample; only while ``idle``.
    idle : Out(1)
    clear : Out(1)
        The sample starts (at this edge): input lists and serialiser start over.
    training : Out(1)
    sweep : Out(stream.Signature(sweep_layout(config), always_ready=True))
        To the sweeper's ``start``.
    sweeper_busy, sweeper_empty : In(1)
    written : In(range(n_layers + 1))
        The serialiser's finished layers.
    scored : In(range(n_classes))
        The serialiser's prediction, read :attr:`scored_wait` cycles after ``written == n_layers`` is seen.
    prediction : Out(stream.Signature(range(n_classes)))
    provide : Out(1)
        Starts the delta provider.
    update : Out(1)
        The update owns the banks and the multipliers.
    busy, sample_done : Out(1)
        To the counters: a sample is in progress; a training sample is done.
    backprop : In(1)
        Backpropagating cores: this sample takes the BP path.
    backward : Out(1)
        Backpropagating cores: the backward unit owns the banks and multipliers.
    learn : Out(1), learned : In(1)
        Rule ``ddfa``: the learned-feedback path owns the banks and multipliers; it is done.
    """

    def __init__(self, config: Config, *, update_latency: int, backward_drain: int | None = None,
                 scored_wait: int = 1):
        require_config(self, config)
        if not isinstance(update_latency, int) or update_latency < 1:
            raise ValueError(f"update_latency must be a positive integer, not {update_latency!r}")
        if not isinstance(scored_wait, int) or scored_wait < 1:
            raise ValueError(f"scored_wait must be a positive integer, not {scored_wait!r}")
        #: Cycles after it sees ``written == n_layers`` that the sequencer reads ``scored`` (its "prediction" state)
        self.scored_wait = scored_wait
        if config.backprop != (backward_drain is not None):
            raise ValueError("backward_drain is needed exactly when the config backpropagates")
        self._config = config
        self._update_latency = update_latency
        self._backward_drain = backward_drain
        # the rule's own hand-overs: backpropagation's backward sweeps, or the learned feedback's passes
        rule_members = {"backprop": In(1), "backward": Out(1)} if config.backprop else {}
        if config.rule == "ddfa":
            rule_members = {"learn": Out(1), "learned": In(1)}
        super().__init__({
            "start": In(stream.Signature(data.StructLayout({"train": 1}), always_ready=True)),
            "idle": Out(1), "clear": Out(1), "training": Out(1),
            "sweep": Out(stream.Signature(sweep_layout(config), always_ready=True)),
            "sweeper_busy": In(1), "sweeper_empty": In(1),
            "written": In(range(config.n_layers + 1)),
            "scored": In(range(config.n_classes)),
            "prediction": Out(stream.Signature(range(config.n_classes))),
            "provide": Out(1), "update": Out(1), "busy": Out(1), "sample_done": Out(1),
            **rule_members,
        })

    @property
    def drain_cycles(self) -> int:
        """Cycles the update keeps the banks after the sweeper is empty: the last write lands in the first."""
        return max(1, self._update_latency - 1)

    def elaborate(self, platform):
        m = Module()
        n_layers = self._config.n_layers
        layer = Signal(range(n_layers))
        tick = Signal(range(max(self.drain_cycles, self._backward_drain or 0, self.scored_wait) + 1))
        m.d.comb += [self.clear.eq(self.start.valid), self.prediction.payload.eq(self.scored)]
        backprop = self._config.backprop
        backward = self.backward if backprop else None  # the current sweep is a backward one

        def sweep(layer_value, update, bwd=0):
            m.d.comb += [self.sweep.valid.eq(1), self.sweep.payload.layer.eq(layer_value),
                         self.sweep.payload.update.eq(update)]
            if backprop:
                m.d.comb += self.sweep.payload.backward.eq(bwd)
                m.d.sync += backward.eq(bwd)

        def update_sweep(layer_value):
            """``layer_value``'s first sweep of the update: backward on a BP sample (but for the first layer)."""
            if backprop:
                sweep(layer_value, 1, sweeps_backward(layer_value, self.backprop))
            else:
                sweep(layer_value, 1)

        def start_update():
            m.d.sync += [layer.eq(n_layers - 1), self.update.eq(1)]
            m.d.comb += self.provide.eq(1)
            update_sweep(n_layers - 1)
            m.next = "update"

        with m.FSM():
            with m.State("idle"):
                m.d.comb += self.idle.eq(1)
                with m.If(self.start.valid):
                    m.d.sync += [self.busy.eq(1), self.training.eq(self.start.payload.train), layer.eq(0)]
                    sweep(0, 0)
                    m.next = "forward"
            with m.State("forward"):
                with m.If(~self.sweeper_busy & (layer < n_layers - 1)):
                    m.d.sync += layer.eq(layer + 1)
                    sweep(layer + 1, 0)
                with m.If(~self.sweeper_busy & (self.written == n_layers)):
                    m.next = "prediction"
                    if self.scored_wait > 1:
                        m.d.sync += tick.eq(0)
                        m.next = "scoring"
            if self.scored_wait > 1:
                with m.State("scoring"):  # the serialiser's prediction is final scored_wait cycles after written
                    m.d.sync += tick.eq(tick + 1)
                    with m.If(tick == self.scored_wait - 2):
                        m.next = "prediction"
            with m.State("prediction"):
                m.d.comb += self.prediction.valid.eq(1)
                with m.If(self.prediction.ready):
                    m.next = "done"
                    with m.If(self.training):
                        if self._config.rule == "ddfa":  # the learned feedback first, then the update
                            m.d.sync += self.learn.eq(1)
                            m.next = "learn"
                        else:
                            start_update()
            if self._config.rule == "ddfa":
                with m.State("learn"):
                    with m.If(self.learned):
                        m.d.sync += self.learn.eq(0)
                        start_update()
            with m.State("update"):
                with m.If(self.sweeper_empty):
                    if backprop:
                        with m.If(backward):
                            m.d.sync += tick.eq(0)
                            m.next = "backward_drain"
                    # the lowest trained layer (frozen convolutions below it are not updated)
                    bottom = self._config.frozen_layers
                    with m.Elif(layer == bottom) if backprop else m.If(layer == bottom):
                        m.d.sync += tick.eq(0)
                        m.next = "drain"
                    with m.Else():
                        m.d.sync += layer.eq(layer - 1)
                        update_sweep(layer - 1)
            if backprop:
                with m.State("backward_drain"):  # the backward unit's last products, then the layer's update
                    m.d.sync += tick.eq(tick + 1)
                    with m.If(tick == self._backward_drain - 1):
                        sweep(layer, 1, 0)
                        m.next = "update"
            with m.State("drain"):  # the update unit's last writes land before anything else reads the banks
                m.d.sync += tick.eq(tick + 1)
                with m.If(tick == self.drain_cycles - 1):
                    m.d.sync += self.update.eq(0)
                    m.next = "done"
            with m.State("done"):
                m.d.sync += self.busy.eq(0)
                m.d.comb += self.sample_done.eq(self.training)
                m.next = "idle"
        return m
