"""The hardware as a backend of golden's training loop (:func:`golden.train.train`).

:class:`HardwareModel` drives any client with the synchronous API of
:class:`scripts.host.client.BoardClient` (``check``, ``reset``, ``load_weights``,
``train``, ``infer_all``, ``counters``, ``read_weights``): a board on a serial port,
the simulated board top, or the simulated core alone
(:class:`scripts.sim.drivers.CoreClient`). So every hardware backend trains with the
very loop, data order and accuracy bookkeeping of the golden models, and
:func:`train_on_hardware` adds what the core's counters measured;
:func:`measure_on_hardware` trains on the first samples of an epoch only, for the counters.
"""

from trifactor.golden.fixed_model import FixedNet, learned_arrays
from trifactor.golden.float_model import weight_arrays
from trifactor.golden.train import sample_orders, train
from trifactor.hdl.protocol import COST_EVENTS, COST_PASSES, cost_name, counter_names

__all__ = ["HardwareModel", "train_on_hardware", "measure_on_hardware", "counter_summary", "costs_per_sample",
           "board_throughput"]


class HardwareModel:
    """The core behind ``client``, its weights loaded from golden's initialisation for ``seed``.

    Inference passes are counted apart, so :meth:`train_counters` holds what training alone cost.
    """

    def __init__(self, client, config, seed: int):
        self.client, self.config = client, config
        client.check()
        client.reset()
        start = FixedNet(config, seed)
        client.load_weights(start.weights, getattr(start, "learned", ()))
        self.names = counter_names(config)
        self.inference = dict.fromkeys(self.names, 0)

    def quantize_inputs(self, x):
        return self.config.input.quantize(x)

    def train_sample(self, x, label: int) -> dict:
        return {"prediction": self.client.train(x, label)}

    def predict(self, x):
        before = self.client.counters()
        predictions = self.client.infer_all(x)
        after = self.client.counters()
        for name in self.names:
            self.inference[name] += after[name] - before[name]
        return predictions

    def train_counters(self) -> dict:
        counters = self.client.counters()
        return {name: counters[name] - self.inference[name] for name in self.names}

    def arrays(self) -> dict:
        return {**weight_arrays(self.client.read_weights()), **learned_arrays(self.client.read_learned())}


def costs_per_sample(config, counters: dict) -> dict:
    """The cost counters per training sample by pass (:data:`hdl.protocol.COST_EVENTS`):
    ``{"forward": {"macs": ..., "weight_reads": ...}, "error_path": {...}, "update": {...}}``; empty without them."""
    if not config.cost_counters:
        return {}
    samples = max(1, counters["samples"])
    costs = {pass_: {} for pass_ in COST_PASSES}
    for pass_, event in COST_EVENTS:
        costs[pass_][event] = counters[cost_name(pass_, event)] / samples
    return costs


def counter_summary(config, counters: dict) -> dict:
    """Per training sample, from the core's training counters: cycles, MACs, the roofline and the MAC utilisation;
    with ``[hardware] cost_counters`` also ``costs_per_sample`` (:func:`costs_per_sample`)."""
    samples = max(1, counters["samples"])
    cycles = counters["cycles"] / samples
    summary = {
        "cycles_per_sample": cycles,
        "macs_per_sample": config.macs_per_sample,
        "macs_done_per_sample": counters["macs_done"] / samples,
        "macs_skipped_per_sample": counters["macs_skipped"] / samples,
        "roofline_cycles_per_sample": config.roofline_cycles,
        # useful MACs: the ones the core did (zero skipping leaves out the ones that add nothing)
        "mac_utilization": counters["macs_done"] / samples / (cycles * config.lanes) if cycles else 0.0,
        "counters": counters,
    }
    costs = costs_per_sample(config, counters)
    if costs:
        summary["costs_per_sample"] = costs
    return summary


def train_on_hardware(client, config, split, epochs: int, seed: int, on_sample=None, on_epoch=None):
    """Train the core behind ``client`` from golden's initialisation for ``seed``; returns (result dict, weight arrays)."""
    model = HardwareModel(client, config, seed)
    result = train(model, split, epochs, seed, on_sample=on_sample, on_epoch=on_epoch)
    result.update(counter_summary(config, model.train_counters()))
    return result, model.arrays()


def measure_on_hardware(client, config, split, seed: int, samples: int, on_sample=None) -> dict:
    """Train the core behind ``client`` on the first ``samples`` training samples of epoch 0 (golden's order
    for ``seed``), without any inference; returns :func:`counter_summary` of those samples plus ``samples``."""
    model = HardwareModel(client, config, seed)
    x_train = model.quantize_inputs(split.x_train)
    order = sample_orders(seed, len(split.y_train), 1, config.order)[0][:samples]
    for index in order:
        model.train_sample(x_train[index], int(split.y_train[index]))
        if on_sample:
            on_sample()
    return {"samples": len(order), **counter_summary(config, model.train_counters())}


def board_throughput(config, result: dict, clock_hz: float, baud: int) -> dict:
    """Training samples per second on a board clocked at ``clock_hz``, from the core's counters in ``result``.

    ``stored``: from the data store, the EPOCH runs' wall cycles per sample (``epoch_cycles_per_sample``, only
    when the run was fed from the store); ``per_sample_link``: each sample sent as a TRAIN frame at ``baud``
    (8N1) and answered before the next, plus the core's busy cycles per sample: what the UART allows.
    """
    from trifactor.hdl.link.frames import TrainHead, value_bytes

    frame = 1 + 3 + 2  # sync, length and code, CRC
    request = frame + TrainHead.size // 8 + config.sizes[0] * value_bytes(config.input.width)
    reply = frame + 2
    seconds = 10 * (request + reply) / baud + result["cycles_per_sample"] / clock_hz
    out = {"clock_hz": clock_hz, "baud": baud, "per_sample_link": 1 / seconds}
    if "epoch_cycles_per_sample" in result:
        out["stored"] = clock_hz / result["epoch_cycles_per_sample"]
    return out
