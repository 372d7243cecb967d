"""The error path interface: what every learning rule's error path (:mod:`hdl.rules.error_path`) takes and gives."""

from amaranth import Signal
from amaranth.hdl import signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config

__all__ = ["request_layout", "fprime_layout", "ErrorPathSignature", "errors_in"]


def request_layout(config: Config) -> data.StructLayout:
    """A delta request: weight layer ``layer``'s output neuron ``neuron``."""
    return data.StructLayout({"layer": range(config.n_layers), "neuron": range(max(config.neuron_counts) + 1)})


def fprime_layout(config: Config) -> data.StructLayout:
    """A hidden neuron's ``f'`` flag, at its running index over every hidden layer (layer after layer)."""
    return data.StructLayout({"index": range(max(1, sum(config.neuron_counts[:-1])) + 1), "value": 1})


class ErrorPathSignature(wiring.Signature):
    """The error path interface (the path's side).

    Members
    -------
    clear : In(1)
        A new sample (at this edge): no output error is in.
    errors : In(stream.Signature(signed(error.width)))
        The sample's ``n_classes`` output errors, in class order.
    fprime : In(stream.Signature(fprime_layout(config), always_ready=True))
        Hidden neurons' ``f'`` flags from the forward pass.
    request : In(stream.Signature(request_layout(config)))
        Taken once the path can answer it.
    delta : Out(stream.Signature(signed(error.width), always_ready=True))
        The deltas in request order, a path's ``latency`` cycles after their requests.
    feedback_reads : Out(range(k + 1)), hidden_deltas : Out(1)
        With ``[hardware] cost_counters`` only, registered (a cycle after the event): the
        feedback values read (``k`` per hidden neuron of a feedback sample); a delta for a
        hidden neuron (request layer < ``n_layers - 1``) left on ``delta``.
    """

    def __init__(self, config: Config):
        super().__init__({
            "clear": In(1),
            "errors": In(stream.Signature(signed(config.error.width))),
            "fprime": In(stream.Signature(fprime_layout(config), always_ready=True)),
            "request": In(stream.Signature(request_layout(config))),
            "delta": Out(stream.Signature(signed(config.error.width), always_ready=True)),
            **({"feedback_reads": Out(range(config.nonzeros_per_row + 1)), "hidden_deltas": Out(1)}
               if config.cost_counters else {}),
        })


def errors_in(m, config, clear, errors):
    """How many of the sample's output errors the path has taken (0 after ``clear``)."""
    have = Signal(range(config.n_classes + 1))
    with m.If(errors.valid & errors.ready):
        m.d.sync += have.eq(have + 1)
    with m.If(clear):
        m.d.sync += have.eq(0)
    return have
