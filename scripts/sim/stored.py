"""Training from the core's data store in the native simulator: ``--backend rtl`` at Verilator's speed.

The whole run is written as the core's commands before it starts (:mod:`scripts.sim.commands`):
golden's initial weights (LOAD), the training and test sets (STORE: training records
first; none when they are in the board's flash), an EVALUATE over every record whose
checksum must be the split's (:func:`check_records`: the store holds this data set, intact), then per epoch golden's order for the seed (ORDER, :func:`golden.train.sample_orders`;
with ``[training] order = "lfsr"`` only the seed of the core's LFSR, before the first epoch:
:func:`commands.epoch_order`),
the counters, EPOCH, the counters again, EVALUATE over the test records; at the end EVALUATE over
the training records and the weights (READ). :mod:`scripts.sim.native` runs them; this module
turns the replies into the result of :func:`golden.train.train` plus the core's counters, so
the JSON is that of the per-sample path, with the EPOCH replies' wall cycles added.

With a trace (:class:`TraceWindow`), the plan cuts the epochs' EPOCH requests at the window's first and last
training sample (EPOCH trains on ``order[address] ..`` for ``count`` samples, or the LFSR's next ``count``, so the
pieces train as the whole),
and the harness writes a waveform while those pieces run (:class:`scripts.sim.native.Trace`).
"""

import numpy as np

from trifactor.golden.fixed_model import FixedNet, learned_arrays
from trifactor.golden.float_model import weight_arrays
from trifactor.golden.train import sample_orders
from trifactor.hdl.layout import WeightLayout
from trifactor.hdl.protocol import ACK, MAX_COUNT, Header, Position, counter_names
from trifactor.hdl.store.epoch_runner import RESULT_FIELDS

from ..host.client import signed_values
from ..host.model import counter_summary
from ..util.errors import UsageError
from ..host import commands
from . import native

__all__ = ["TraceWindow", "plan", "sample_steps", "train_stored", "train_on_board", "stored_result",
           "epoch_summary"]


class TraceWindow:
    """A waveform of training samples ``first .. end - 1`` written to ``path``: samples counted over the whole
    run in training order (sample ``epoch * n_train + k`` is the ``k``-th of that epoch's order)."""

    def __init__(self, path, first: int, end: int):
        if not 0 <= first < end:
            raise ValueError(f"a trace of samples {first}..{end - 1} holds none")
        self.path, self.first, self.end = path, first, end

    @property
    def cuts(self) -> tuple:
        return (self.first, self.end)

    def summary(self, steps, cycles, n_train: int) -> dict:
        """Where the window is in the trace, from the plan's ``steps`` and the run's :func:`native.request_cycles`:
        ``path``, ``samples`` [first, end), ``start_ns`` (its first sample's EPOCH starts), ``end_ns``."""
        from .native import PERIOD_NS

        ranges = sample_steps(steps, n_train)
        first = next(k for k, (a, b) in ranges.items() if a == self.first)
        last = next(k for k, (a, b) in ranges.items() if b == self.end)
        return {"path": str(self.path), "samples": [self.first, self.end], "start_ns": cycles[first][0] * PERIOD_NS,
                "end_ns": (cycles[last][1] + 1) * PERIOD_NS, "period_ns": PERIOD_NS}


def sample_steps(steps, n_train: int) -> dict:
    """``{step index: (first, end)}``: the training samples each EPOCH step of ``steps`` runs, counted over the run
    (:class:`TraceWindow`)."""
    ranges = {}
    for k, (tag, command) in enumerate(steps):
        if isinstance(tag, tuple) and tag[0] == "epoch":
            header, where = command.words[:2]
            start = tag[1] * n_train + (where >> Position["address"].offset) % (1 << Position["address"].width)
            ranges[k] = (start, start + (header >> Header["arg"].offset) % (1 << Header["arg"].width))
    return ranges


def plan(config, x_train, y_train, x_test, y_test, epochs: int, seed: int, init_seed: int,
         chunk: int = MAX_COUNT, read_chunk: int = MAX_COUNT, store: bool = True, cuts=()) -> list:
    """The run as ``[(tag, Command), ...]``; LOAD, STORE and ORDER of at most ``chunk`` values, READ of
    ``read_chunk``. Without ``store`` the records are already there (in the board's flash): no STORE. ``cuts``:
    training samples (counted over the run) where an epoch's EPOCH is cut in two (:class:`TraceWindow`)."""
    n_train, n_test = len(y_train), len(y_test)
    if max(n_train, n_test) > MAX_COUNT:
        raise UsageError(f"{max(n_train, n_test)} samples do not fit one EPOCH or EVALUATE (at most {MAX_COUNT})",
                         "use --per-sample")
    start = FixedNet(config, init_seed)
    steps = [("load", c) for c in commands.load_words(config, start.weights, chunk, getattr(start, "learned", ()))]
    if store:
        steps += [("store", c) for c in commands.store(config, 0, x_train, y_train, chunk)]
        steps += [("store", c) for c in commands.store(config, n_train, x_test, y_test, chunk)]
    steps.append(("check", commands.evaluate(0, n_train + n_test)))
    for epoch, order in enumerate(sample_orders(seed, n_train, epochs, config.order)):
        steps += [("order", c) for c in commands.epoch_order(config, seed, epoch, order, chunk)]
        bounds = sorted({0, n_train, *(c - epoch * n_train for c in cuts if 0 < c - epoch * n_train < n_train)})
        steps.append((("before", epoch), commands.counters(config)))
        steps += [(("epoch", epoch), commands.epoch(a, b - a)) for a, b in zip(bounds, bounds[1:])]
        steps.append((("after", epoch), commands.counters(config)))
        if n_test:
            steps.append((("test", epoch), commands.evaluate(n_train, n_test)))
    steps.append(("train", commands.evaluate(0, n_train)))
    steps += [("weights", c) for c in commands.read_words(config, read_chunk)]
    return steps


def check_records(config, split, x_train, x_test, words, flash: bool):
    """Raise a :class:`UsageError` unless ``words``, the reply to the plan's ``check`` EVALUATE over every record,
    carry the checksum of the split's records (training, then test), as :func:`hdl.store.data_store.record_bytes`."""
    from trifactor.hdl.store.data_store import record_bytes
    from trifactor.hdl.store.epoch_runner import run_checksum

    x = np.concatenate([x_train, x_test])
    want = run_checksum(record_bytes(config, x, np.concatenate([split.y_train, split.y_test])))
    got = words[RESULT_FIELDS.index("checksum")]
    if got != want:
        where = "flash" if flash else "store"
        fix = (f"write them with trifactor flash --data {split.name}" if flash else "run again; if it repeats, "
               "the data store's memory is faulty")
        raise UsageError(f"the core's {where} does not hold {split.name}'s records (their checksum is {want:08x}, "
                         f"the core read {got:08x}); nothing was trained", fix)


def _ends_epoch(tag, split) -> bool:
    """The step after which an epoch is done: its test (EVALUATE), or without a test set its counters."""
    return isinstance(tag, tuple) and tag[0] == ("test" if split.y_test.size else "after")


def _split_replies(steps, replies):
    """``{tag: [(word, seconds, cpu_seconds), ...]}``, replies of one tag concatenated."""
    by_tag, at = {}, 0
    for tag, command in steps:
        by_tag.setdefault(tag, []).extend(replies[at:at + command.replies])
        at += command.replies
    return by_tag


def epoch_summary(config, epoch_cycles: list, n_train: int) -> dict:
    """Samples per clock cycle over whole EPOCH runs (the core's wall cycles, the runner's overhead included)."""
    cycles = sum(epoch_cycles) / (len(epoch_cycles) * n_train)
    return {"epoch_cycles": epoch_cycles, "epoch_cycles_per_sample": cycles}


def _arrays(config, words) -> dict:
    """``{"W0": ..., "b0": ..., ...}`` (and rule ``ddfa``'s ``B0``, ...) from the words of every bank read back."""
    layout = WeightLayout(config)
    values = signed_values([r[0] for r in words], config.weight.width)
    banks = values.reshape(layout.depth, config.lanes).T
    return {**weight_arrays(layout.from_banks(banks)), **learned_arrays(layout.learned_from_banks(banks))}


class _Board:
    """The run's core commands as the board's link frames (:func:`scripts.host.commands.to_frame`): bytes."""

    def __init__(self, config, store_samples):
        self.config, self.store_samples = config, store_samples

    def requests(self, steps):
        frames = [commands.to_frame(self.config, self.store_samples, c) for _, c in steps]
        return [(list(frame), reply) for frame, reply in frames]

    def replies(self, steps, requests, replies):
        """Each request's reply frame, as the core's words (times: the frame's last byte's)."""
        words, at = [], 0
        for (_, command), (_, length) in zip(steps, requests):
            frame = replies[at:at + length]
            at += length
            try:
                values = commands.from_frame(self.config, self.store_samples, command, bytes(r[0] for r in frame))
            except ValueError as exc:
                raise UsageError(f"the simulated board {exc}", "see the simulation log") from None
            words += [(value, *frame[-1][1:]) for value in values]
        return words


def split_image(config, split) -> bytes:
    """The split as the board's flash holds it (:func:`hdl.store.data_store.flash_image`): training records, then test."""
    from trifactor.hdl.store.data_store import flash_image

    x = np.concatenate([config.input.quantize(split.x_train), config.input.quantize(split.x_test)])
    return flash_image(config, x, np.concatenate([split.y_train, split.y_test]))


def train_stored(config, split, epochs: int, seed: int, binary, job_dir, on_epoch=None, board=False,
                 flash=False, trace: TraceWindow | None = None) -> tuple:
    """Train the core of ``binary`` (:func:`scripts.sim.native.build` of a core, or with ``board`` of the
    simulated board, with a store for the split) from its store; returns (result dict, weights). With ``flash``
    (a board only) the records are in its flash model, which gets :func:`split_image` before the run. With
    ``trace`` (a ``binary`` built with ``trace``), a waveform of its samples; the result's ``trace`` says where."""
    cuts = trace.cuts if trace else ()
    if trace and trace.end > epochs * len(split.y_train):
        raise ValueError(f"samples {trace.first}..{trace.end - 1} of a run of {epochs * len(split.y_train)}")
    x_train, x_test = config.input.quantize(split.x_train), config.input.quantize(split.x_test)
    if board:
        from trifactor.hdl.link.frames import CHUNK

        from ..host.client import READ_CHUNK
        link = _Board(config, len(split.y_train) + len(split.y_test))
        steps = plan(config, x_train, split.y_train, x_test, split.y_test, epochs, seed, seed, CHUNK, READ_CHUNK,
                     store=not flash, cuts=cuts)
        requests = link.requests(steps)
    else:
        steps = plan(config, x_train, split.y_train, x_test, split.y_test, epochs, seed, seed, cuts=cuts)
        requests = [(c.words, c.replies) for _, c in steps]
    n_words = sum(len(words) for words, _ in requests)
    ends = {}  # reply count at the end of each epoch's EVALUATE (or EPOCH): progress
    at = 0
    for (tag, _), (_, replies) in zip(steps, requests):
        at += replies
        if _ends_epoch(tag, split):
            ends[at] = tag[1]
    n_samples = len(split.y_train) + len(split.y_test)
    per_word = 100 if board else 10  # a byte through two UARTs: 40 cycles
    budget = per_word * n_words + commands.run_cycles_bound(config, (epochs + 3) * n_samples, flash) + 10**6

    def on_reply(count):
        if count in ends and on_epoch:
            on_epoch(ends[count])

    window = None
    if trace:
        ranges = sample_steps(steps, len(split.y_train))
        window = native.Trace(trace.path, min(k for k, (a, b) in ranges.items() if a == trace.first),
                              max(k for k, (a, b) in ranges.items() if b == trace.end) + 1)
    replies = native.run(binary, requests, budget, job_dir, on_reply, split_image(config, split) if flash else None,
                         trace=window)
    if board:
        replies = link.replies(steps, requests, replies)
    check_records(config, split, x_train, x_test, [r[0] for r in _split_replies(steps, replies)["check"]], flash)
    result, weights = stored_result(config, split, epochs, steps, replies)
    if trace:
        result["trace"] = trace.summary(steps, native.request_cycles(job_dir), len(split.y_train))
    return result, weights


def train_on_board(client, config, split, epochs: int, seed: int, store_samples: int, on_epoch=None,
                   flash=False) -> tuple:
    """The same run on a board whose core has a data store of ``store_samples`` (``client``: a checked
    :class:`scripts.host.client.BoardClient`), one request at a time; returns (result dict, weights). With
    ``flash`` the records are already in the board's flash (no STORE)."""
    import time

    from trifactor.hdl.link.frames import CHUNK

    from ..host.client import READ_CHUNK
    x_train, x_test = config.input.quantize(split.x_train), config.input.quantize(split.x_test)
    steps = plan(config, x_train, split.y_train, x_test, split.y_test, epochs, seed, seed, CHUNK, READ_CHUNK,
                 store=not flash)
    client.reset()
    replies, start, cpu = [], time.monotonic(), time.process_time()
    for tag, command in steps:
        words = client.send(store_samples, command)
        if tag == "check":  # before any training
            check_records(config, split, x_train, x_test, words, flash)
        replies += [(word, time.monotonic() - start, time.process_time() - cpu) for word in words]
        if on_epoch and _ends_epoch(tag, split):
            on_epoch(tag[1])
    return stored_result(config, split, epochs, steps, replies)


def stored_result(config, split, epochs: int, steps, replies) -> tuple:
    """(result dict, the trained arrays ``{"W0": ..., "b0": ..., ...}``) from the replies to :func:`plan`'s ``steps``, ``[(word, seconds, cpu_seconds)]``."""
    replies = _split_replies(steps, replies)
    acks = [r[0] for tag in ("load", "store", "order") for r in replies.get(tag, [])]
    if any(w != ACK for w in acks):
        raise UsageError("the core refused a LOAD, STORE or ORDER command", "build the core with a data store")
    names = counter_names(config)

    def counters(tag):
        words = [r[0] for r in replies[tag]]
        return {name: words[2 * k] | (words[2 * k + 1] << 32) for k, name in enumerate(names)}

    trained = dict.fromkeys(names, 0)
    history, online, seconds, cpu_seconds, epoch_cycles = [], [], [], [], []
    for epoch in range(epochs):
        before, after = counters(("before", epoch)), counters(("after", epoch))
        for name in names:
            trained[name] += after[name] - before[name]
        words, fields = replies[("epoch", epoch)], len(RESULT_FIELDS)  # one EPOCH, or its pieces (a trace's cuts)
        pieces = [words[at:at + fields] for at in range(0, len(words), fields)]
        correct, cycles = sum(piece[0][0] for piece in pieces), sum(piece[1][0] for piece in pieces)
        done, done_cpu = pieces[-1][1][1:]
        online.append(correct / len(split.y_train))
        epoch_cycles.append(cycles)
        seconds.append(done - replies[("before", epoch)][-1][1])
        cpu_seconds.append(done_cpu - replies[("before", epoch)][-1][2])
        if split.y_test.size:
            history.append(replies[("test", epoch)][0][0] / len(split.y_test))
    result = {
        "test_accuracy": history[-1] if history else float("nan"), "history": history,
        "train_accuracy": replies["train"][0][0] / len(split.y_train), "train_history_online": online,
        "epoch_seconds": seconds, "epoch_cpu_seconds": cpu_seconds, "run_seconds": replies["weights"][-1][1],
        "fed": "stored",
        **counter_summary(config, trained), **epoch_summary(config, epoch_cycles, len(split.y_train)),
    }
    return result, _arrays(config, replies["weights"])
