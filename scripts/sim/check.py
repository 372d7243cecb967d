"""``trifactor check``: the core in the native simulator beside golden, sample by sample, to the first divergence.

For the user whose new rule (or new part) makes ``--backend rtl`` end with weights that are not
``--backend fixed``'s: which training sample went wrong first, in which pass, which layer and
neuron, golden's value and the hardware's, and golden's intermediates for that neuron.

The core is the one ``--backend rtl`` trains (a data store, :mod:`scripts.sim.stored`), run by the native
harness (:mod:`scripts.sim.native`). The simulation is deterministic, so a run can be repeated from
reset exactly, and the check runs up to three times:

1. every sample in golden's order (EPOCH requests of ``chunk`` samples), with the weights read (READ)
   after each chunk, compared with golden (:class:`golden.fixed_model.FixedNet`) stepped beside them: the
   right predictions of the chunk and every weight. With ``chunk`` 1 each sample is also inferred (INFER,
   before its update: the forward pass's prediction) and this run is the last;
2. the first chunk that differs again, sample by sample (INFER, EPOCH of one sample, READ);
3. with a trace, the diverging sample once more, with the FST waveform written while it runs.

The first difference is reported: in the forward pass (the prediction; the output scores cannot be read
from the core), else in the update (the weights written), with every layer whose weights differ.
"""

import math
from pathlib import Path

import numpy as np

from trifactor.golden.conv import conv_windows
from trifactor.golden.fixed_model import FixedNet, with_bias_input
from trifactor.golden.fixedpoint import narrow, shift_right
from trifactor.golden.train import sample_orders
from trifactor.hdl.layout import WeightLayout
from trifactor.hdl.protocol import ACK, Op, header

from ..host import commands
from ..host.client import signed_values
from ..util.checks import check_seed, check_store_room
from ..util.errors import UsageError
from ..util.network import network_text
from . import native
from . import runner as recipe

__all__ = ["REPLY_WORDS", "check_core", "report_text"]

REPLY_WORDS = 2_000_000  # about the most weight words pass 1 reads back (40 MB of replies): sets the chunk


def _infer(config, x) -> commands.Command:
    """INFER on quantised inputs ``x`` (the input format's low bits, as the host sends them)."""
    return commands.Command([header(Op.INFER), *(int(v) & 0xFFFF_FFFF for v in x)], 1)


def plan(config, x_train, y_train, orders, stop: int, chunk: int, detail=range(0), reads: bool = True,
         seed: int = 0) -> list:
    """The hardware run after golden's initial weights are loaded, as ``[(tag, Command), ...]``: STORE the training
    records (``("store",)``), then per epoch ORDER (``("order", epoch)``: ``orders``' for it, or with the LFSR order
    its ``seed`` before the first epoch, :func:`commands.epoch_order`) and EPOCH requests over training samples
    ``0 .. stop - 1`` (counted over the run):
    ``("train", a, b)`` trains samples ``a .. b - 1`` (an EPOCH every ``chunk`` samples) and, with ``reads``,
    ``("weights", b)`` reads every weight after them; each sample of ``detail`` on its own: ``("infer", a)`` (the
    prediction before its update), ``("train", a, a + 1)``, ``("weights", a + 1)``."""
    n = len(y_train)
    steps = [(("store",), c) for c in commands.store(config, 0, x_train, y_train)]
    for epoch, order in enumerate(orders):
        first = epoch * n
        if first >= stop:
            break
        steps += [(("order", epoch), c) for c in commands.epoch_order(config, seed, epoch, order)]
        at = first
        while at < min(first + n, stop):
            if at in detail:
                end = at + 1
                steps.append((("infer", at), _infer(config, x_train[order[at - first]])))
            else:
                end = min((at // chunk + 1) * chunk, first + n, stop)
                if detail and at < detail.start:
                    end = min(end, detail.start)
            steps.append((("train", at, end), commands.epoch(at - first, end - at)))
            if at in detail or reads and (end % chunk == 0 or end == stop):
                steps += [(("weights", end), c) for c in commands.read_words(config)]
            at = end
    return steps


def _replies_by_step(steps, replies) -> list:
    """``[(tag, [word, ...]), ...]``: each group of steps with one tag (a READ in several commands) and its words."""
    groups, at = [], 0
    for tag, command in steps:
        words = [r[0] for r in replies[at:at + command.replies]]
        at += command.replies
        if groups and groups[-1][0] == tag and tag[0] == "weights":
            groups[-1][1].extend(words)
        else:
            groups.append((tag, words))
    return groups


class _Golden:
    """Golden's fixed model stepped through the run's samples in order, keeping what a report needs."""

    def __init__(self, config, seed, x_train, y_train, orders):
        self.config, self.x, self.y = config, x_train, y_train
        self.orders = orders  # golden.train.sample_orders: drawn an epoch at a time, never all at once
        self._epoch, self._order, self._next = -1, None, iter(orders)
        self.net = FixedNet(config, seed)
        self.done = 0  # samples trained
        self.last = None  # (weights before, then rule ddfa's B before; train_sample's result) of the last sample

    def record(self, sample: int) -> int:
        """The record (training sample index) trained ``sample``-th in the run."""
        epoch, k = divmod(sample, len(self.y))
        if epoch < self._epoch:  # an earlier epoch's: draw the orders again from the start
            self._epoch, self._next = -1, iter(self.orders)
        while self._epoch < epoch:
            self._order, self._epoch = next(self._next), self._epoch + 1
        return int(self._order[k])

    def train_to(self, end: int) -> int:
        """Train samples ``done .. end - 1``; returns how many of them golden predicted right."""
        right = 0
        while self.done < end:
            index = self.record(self.done)
            before = [w.copy() for w in self.net.weights + getattr(self.net, "learned", [])]
            result = self.net.train_sample(self.x[index], int(self.y[index]))
            right += result["prediction"] == self.y[index]
            self.last = (before, result)
            self.done += 1
        return right


def _compare(config, golden, groups, layout, n_train) -> dict | None:
    """Step ``golden`` through the replies of a run; the first divergence (a dict; ``samples``: the samples since
    the last agreement), or None."""
    inferred, since = {}, 0
    for tag, words in groups:
        kind = tag[0]
        if kind in ("store", "order"):
            if any(w != ACK for w in words):
                raise UsageError("the core refused a STORE or ORDER command", "see the simulation log")
        elif kind == "infer":
            inferred[tag[1]] = words[0]
        elif kind == "train":
            a, b = tag[1:]
            right = golden.train_to(b)
            hardware_right = words[0]
            if b - a == 1 and a in inferred and inferred[a] != golden.last[1]["prediction"]:
                return _forward(config, golden, a, inferred[a], n_train)
            if hardware_right != right:
                if a in inferred:  # a sample on its own, whose prediction while training is not the one INFER made
                    return _forward(config, golden, a, None, n_train, hardware_right=hardware_right)
                return {"samples": [since, b], "pass": "forward", "right": {"golden": int(right),
                                                                             "hardware": int(hardware_right)}}
        elif kind == "weights":
            values = signed_values(words, config.weight.width)
            hardware = layout.from_banks(values.reshape(layout.depth, config.lanes).T)
            differ = [layer for layer, (g, h) in enumerate(zip(golden.net.weights, hardware))
                      if not np.array_equal(g, h)]
            if differ:
                return {"samples": [since, tag[1]], "pass": "update", "hardware_weights": hardware,
                        "layers": differ}
            learned = layout.learned_from_banks(values.reshape(layout.depth, config.lanes).T)
            differ = [layer for layer, (g, h) in enumerate(zip(getattr(golden.net, "learned", []), learned))
                      if not np.array_equal(g, h)]
            if differ:
                return {"samples": [since, tag[1]], "pass": "feedback", "hardware_learned": learned, "layers": differ}
            since = tag[1]
    return None


def _sample_info(golden, sample: int, n_train: int) -> dict:
    index = golden.record(sample)
    return {"sample": sample, "epoch": sample // n_train, "position": sample % n_train, "record": index,
            "label": int(golden.y[index])}


def _forward(config, golden, sample, prediction, n_train, hardware_right=None) -> dict:
    result = golden.last[1]
    out = {**_sample_info(golden, sample, n_train), "pass": "forward",
           "prediction": {"golden": result["prediction"], "hardware": prediction},
           "golden_scores": result["h"][-1].tolist()}
    if prediction is None:
        out["right"] = {"golden": int(result["prediction"] == golden.y[golden.record(sample)]),
                        "hardware": int(hardware_right)}
    return out


def _update(config, golden, divergence, n_train) -> dict:
    """The update divergence of the last sample golden trained: per differing layer, its first weight that differs
    (row-major), golden's value and the hardware's, and golden's intermediates for that neuron."""
    sample = golden.done - 1
    before, result = golden.last
    layers = []
    for layer in divergence["layers"]:
        spec = config.layers[layer]
        g, h = golden.net.weights[layer], divergence["hardware_weights"][layer]
        rows, columns = np.nonzero(g != h)
        j, i = int(rows[0]), int(columns[0])
        if spec.conv:
            layers.append(_conv_update(config, spec, result, before, g, h, rows.size, j, i))
            continue
        x = int(with_bias_input(result["inputs"][layer], spec)[i])
        d = int(result["delta"][layer][j])
        step = int(shift_right(d * x, spec.update_shift, config.update_rounding))
        hidden = layer < config.n_layers - 1
        layers.append({
            "layer": layer, "inputs": spec.n_in, "neurons": spec.n_out,
            "differ": int(rows.size), "neuron": j, "input": i, "bias": i == spec.n_in,
            "golden": int(g[j, i]), "hardware": int(h[j, i]), "before": int(before[layer][j, i]),
            "delta": d, "fprime": int(result["fprime"][layer][j]), "x": x, "product": d * x,
            "update_shift": spec.update_shift, "rounding": config.update_rounding.value, "step": step,
            # a hidden delta is f' * narrow(shift_right(sum)): (B e)[j], or (W^T d)[j] with backpropagation
            **({"delta_sum": int(result["feedback_sum"][layer][j])} if hidden else {}),
        })
    return {**_sample_info(golden, sample, n_train), "pass": "update", "backprop": bool(result["backprop"]),
            "prediction": {"golden": result["prediction"], "hardware": result["prediction"]}, "layers": layers}


def _conv_update(config, spec, result, before, g, h, differ, channel, column) -> dict:
    """A convolution layer's first differing weight (channel, window element) and golden's position-by-position
    update of it (:func:`golden.fixed_model.conv_update`): every position whose step there is not 0."""
    conv = spec.conv
    windows = with_bias_input(conv_windows(result["inputs"][spec.index], spec), spec)
    deltas = np.asarray(result["delta"][spec.index]).reshape(spec.positions, spec.n_out)[:, channel]
    weight, steps = int(before[spec.index][channel, column]), []
    for position, (y, x) in enumerate(conv.walk().tolist()):
        d, value = int(deltas[position]), int(windows[position, column])
        step = int(shift_right(d * value, spec.update_shift, config.update_rounding))
        if step:
            weight = int(narrow(np.int64(weight - step), config.weight, config.overflow))
            steps.append({"position": position, "y": y, "x": x, "delta": d, "x_in": value, "step": step,
                          "weight": weight})
    ky, rest = divmod(column, conv.kernel * conv.in_shape[2])
    kx, ci = divmod(rest, conv.in_shape[2])
    return {"layer": spec.index, "conv": True, "channels": spec.n_out, "window": spec.n_in,
            "positions": spec.positions, "differ": int(differ), "neuron": channel, "input": column,
            "bias": column == spec.n_in, "element": [ky, kx, ci], "golden": int(g[channel, column]),
            "hardware": int(h[channel, column]), "before": int(before[spec.index][channel, column]),
            "update_shift": spec.update_shift, "rounding": config.update_rounding.value, "steps": steps}


def _feedback(config, golden, divergence, n_train) -> dict:
    """A learned-feedback divergence (rule ``ddfa``) of the last sample golden trained: per differing hidden layer,
    its first ``B`` entry that differs, golden's value and the hardware's, and golden's update of it
    (:func:`golden.learned.feedback_update`)."""
    sample = golden.done - 1
    before, result = golden.last
    learned = result["learned"]
    layers = []
    for layer in divergence["layers"]:
        g, h = golden.net.learned[layer], divergence["hardware_learned"][layer]
        rows, columns = np.nonzero(g != h)
        j, c = int(rows[0]), int(columns[0])
        layers.append({"layer": layer, "differ": int(rows.size), "neuron": j, "class": c, "golden": int(g[j, c]),
                       "hardware": int(h[j, c]), "before": int(before[config.n_layers + layer][j, c]),
                       "direction": int(learned["u"][layer][j]), "tangent": int(learned["d"][c]),
                       "rate_shift": config.rate_shift, "rounding": config.update_rounding.value})
    return {**_sample_info(golden, sample, n_train), "pass": "feedback",
            "prediction": {"golden": result["prediction"], "hardware": result["prediction"]}, "layers": layers}


def _run(config, binary, init, steps, job_dir, max_samples, progress=None, trace=None):
    requests = [(c.words, c.replies) for _, c in init + steps]
    n_words = sum(len(words) for words, _ in requests)
    reads = sum(c.replies for tag, c in steps if tag[0] == "weights")
    budget = 10 * n_words + 4 * reads + max_samples * (4 * int(config.mac_issue_cycles) + 100) + 10**6
    ends, at = {}, sum(c.replies for _, c in init)
    for tag, command in steps:
        at += command.replies
        if tag[0] == "train":
            ends[at] = tag[2]
    on_reply = (lambda count: progress(ends[count]) if count in ends else None) if progress else None
    replies = native.run(binary, requests, budget, job_dir, on_reply, trace=trace)
    if any(r[0] != ACK for r in replies[:sum(c.replies for _, c in init)]):
        raise UsageError("the core refused a LOAD command", "see the simulation log")
    return replies[sum(c.replies for _, c in init):]


def check_core(config, split, epochs: int, seed: int, *, fault: str | None = None, trace=None, quiet=False,
               build_root=Path("build/rtl"), chunk: int | None = None) -> dict:
    """Train the core (with a data store, as ``--backend rtl``) in the native simulator beside golden's fixed
    model and stop at the first divergence; returns the report (:func:`report_text` prints it).

    ``split``: :func:`golden.train.load_data`'s. ``fault``: a fault built into the core on purpose
    (:data:`hdl.core.update_unit.FAULTS`; tests only). ``trace``: a path; the waveform of the diverging sample
    is written there (from a traced build; none when nothing diverges). ``chunk``: samples between weight reads
    in the first run (default: 1 when all the weights of every sample fit :data:`REPLY_WORDS`).

    The report: ``samples`` (trained and compared), ``matched`` (samples that matched, before the divergence),
    ``chunk``, ``divergence`` (None, or where and what), ``trace`` (with a divergence and ``trace``).
    """
    from tqdm import tqdm

    from trifactor.hdl.core.learner import LearnerCore

    from .backend import job_folder

    check_seed(seed)
    config.check_hardware()
    recipe.prepare()
    n = check_store_room(config, split, "use a smaller data set")
    try:
        core = LearnerCore(config, store_samples=n, fault=fault)
    except ValueError as exc:
        raise UsageError(f"--inject-fault {fault}: {exc}", "see hdl/core/update_unit.py FAULTS") from None
    n_train, total = len(split.y_train), epochs * len(split.y_train)
    layout = WeightLayout(config)
    read_words = layout.depth * config.lanes
    chunk = chunk or max(1, math.ceil(total * read_words / REPLY_WORDS))
    x_train = config.input.quantize(split.x_train)
    orders = sample_orders(seed, n_train, epochs, config.order)
    start = FixedNet(config, seed)
    init = [(("load",), c) for c in commands.load_words(config, start.weights, learned=getattr(start, "learned", ()))]
    suffix = (f"-fault-{fault.replace(':', '-')}" if fault else "") + ("-trace" if trace else "")
    build_dir = (Path(build_root).resolve()
                 / f"{config.name}-rtl-native-{config.hardware_id():08x}-{n}{suffix}")
    bar = tqdm(total=total, unit="sample", desc=f"check {config.name}", disable=quiet or None, leave=False,
               dynamic_ncols=True)

    def compare(steps, replies):
        golden = _Golden(config, seed, x_train, split.y_train, orders)
        return golden, _compare(config, golden, _replies_by_step(steps, replies), layout, n_train)

    def progress(done):
        bar.n = done
        bar.refresh()

    with bar, job_folder(build_dir) as job_dir:
        bar.set_postfix_str("building the core in Verilator")
        binary = native.build(core, config.name, build_dir, trace=bool(trace))
        bar.set_postfix_str("")
        detail = range(total) if chunk == 1 else range(0)
        steps = plan(config, x_train, split.y_train, orders, total, chunk, detail, seed=seed)
        golden, found = compare(steps, _run(config, binary, init, steps, job_dir, total, progress))
        if found is not None and chunk > 1:  # the chunk again, sample by sample
            a, b = found["samples"]
            bar.set_postfix_str(f"samples {a}..{b - 1} one by one")
            steps = plan(config, x_train, split.y_train, orders, b, n_train, range(a, b), reads=False, seed=seed)
            golden, found = compare(steps, _run(config, binary, init, steps, job_dir, b))
            if found is None:
                raise UsageError(f"the core diverged in samples {a}..{b - 1} once, not when run again",
                                 "report it: the simulation should be deterministic")
        report = {"samples": total, "chunk": chunk, "fault": fault, "divergence": None, "matched": total}
        if found is None:
            return report
        explain = {"update": _update, "feedback": _feedback}.get(found["pass"])
        divergence = explain(config, golden, found, n_train) if explain else found
        report.update(divergence=divergence, matched=divergence["sample"])
        if trace:
            sample = divergence["sample"]
            bar.set_postfix_str(f"tracing sample {sample}")
            steps = plan(config, x_train, split.y_train, orders, sample + 1, n_train, range(sample, sample + 1),
                         reads=False, seed=seed)
            first = len(init) + next(k for k, (tag, _) in enumerate(steps) if tag == ("infer", sample))
            window = native.Trace(trace, first, len(init) + len(steps))
            _run(config, binary, init, steps, job_dir, sample + 1, trace=window)
            cycles = native.request_cycles(job_dir)
            train = first + 1  # the EPOCH of the sample, after its INFER
            report["trace"] = {"path": str(trace), "sample": sample, "period_ns": native.PERIOD_NS,
                               "start_ns": cycles[first][0] * native.PERIOD_NS,
                               "train_ns": [cycles[train][0] * native.PERIOD_NS, cycles[train][1] * native.PERIOD_NS],
                               "end_ns": (cycles[-1][1] + 1) * native.PERIOD_NS}
    return report


def _conv_lines(layer) -> list:
    """The report's lines for a convolution layer's update divergence (:func:`_conv_update`)."""
    l, c, i = layer["layer"], layer["neuron"], layer["input"]
    ky, kx, ci = layer["element"]
    name = (f"b{l}[{c}] (channel {c}, the bias)" if layer["bias"]
            else f"W{l}[{c}, {i}] (channel {c}, window element {i}: ky {ky}, kx {kx}, input channel {ci})")
    lines = [f"  layer {l} (convolution: {layer['channels']} channels, windows of {layer['window']} + bias, "
             f"{layer['positions']} positions): {_plural(layer['differ'], 'weight')} differ"
             f"{'s' if layer['differ'] == 1 else ''} after the update; the first:",
             f"    {name}: golden {layer['golden']}, hardware {layer['hardware']}, before the update {layer['before']}",
             f"    golden's update there, position by position (shift {layer['update_shift']}, {layer['rounding']}; "
             f"positions whose step is 0 left out):"]
    for s in layer["steps"][:8]:
        lines.append(f"      position {s['position']} (y {s['y']}, x {s['x']}): d = {s['delta']}, x = {s['x_in']}, "
                     f"step {s['step']} -> {s['weight']}")
    if len(layer["steps"]) > 8:
        lines.append(f"      ... {len(layer['steps']) - 8} more, ending at {layer['golden']}")
    return lines


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def report_text(report: dict, config, dataset: str, seed: int, epochs: int) -> str:
    """The report of :func:`check_core` as text for a terminal."""
    run = (f"check {config.name} ({network_text(config)}, {config.rule}) on {dataset}, seed {seed}, "
           f"{_plural(epochs, 'epoch')}")
    if report["fault"]:
        run += f" (fault built in on purpose: {report['fault']})"
    reads = "each sample" if report["chunk"] == 1 else f"every {report['chunk']} samples"
    d = report["divergence"]
    if d is None:
        return (f"{run}\nall {report['samples']} training samples matched golden: the predictions, and every weight "
                f"read back after {reads}")
    lines = [run, f"DIVERGES at training sample {d['sample']} (epoch {d['epoch']}, position {d['position']} of its "
                  f"order; counted from 0): training record {d['record']}, label {d['label']}",
             f"  samples 0..{d['sample'] - 1} matched golden" if d["sample"] else "  from the first sample on"]
    if d["pass"] == "forward":
        p = d["prediction"]
        if p["hardware"] is None:  # only the EPOCH's count of right predictions differs
            hardware = "the label" if d["right"]["hardware"] else "not the label"
        else:
            hardware = p["hardware"]
        lines.append(f"  pass: forward: prediction golden {p['golden']}, hardware {hardware} (golden's output "
                     f"scores: {d['golden_scores']}; the core's cannot be read)")
    elif d["pass"] == "feedback":
        lines.append(f"  pass: feedback update: the forward pass and every weight agreed (prediction "
                     f"{d['prediction']['golden']} on both); the learned feedback B differs")
        for layer in d["layers"]:
            l, j, c = layer["layer"], layer["neuron"], layer["class"]
            align = config.weight.frac - config.tangent.frac
            lines += [f"  B{l} (hidden layer {l}): {_plural(layer['differ'], 'entry')} differ; the first: "
                      f"B{l}[{j}, {c}] (neuron {j}, class {c}): golden {layer['golden']}, hardware "
                      f"{layer['hardware']}, before {layer['before']}",
                      f"    golden's update there: u[{j}] = {layer['direction']:+d}, d[{c}] = {layer['tangent']} "
                      f"(output tangent), B - shift_right(B - (u d << {align}), {layer['rate_shift']}, "
                      f"{layer['rounding']}) = {layer['golden']}"]
    else:
        lines.append(f"  pass: update: the forward pass agreed (prediction {d['prediction']['golden']} on both); "
                     f"hidden deltas from {'backpropagation (W^T d)' if d['backprop'] else 'the feedback (B e)'}")
        for layer in d["layers"]:
            if layer.get("conv"):
                lines += _conv_lines(layer)
                continue
            l, j, i = layer["layer"], layer["neuron"], layer["input"]
            name = f"b{l}[{j}] (neuron {j}, the bias)" if layer["bias"] else f"W{l}[{j}, {i}] (neuron {j}, input {i})"
            behind = (f"{'(W^T d)' if d['backprop'] else '(B e)'}[{j}] = {layer['delta_sum']}" if "delta_sum" in layer
                      else "the output error")
            lines += [
                f"  layer {l} ({layer['inputs']} inputs + bias -> {layer['neurons']} neurons): "
                f"{_plural(layer['differ'], 'weight')} differ{'s' if layer['differ'] == 1 else ''} after the update; "
                "the first:",
                f"    {name}: golden {layer['golden']}, hardware {layer['hardware']}, before the update "
                f"{layer['before']}",
                f"    golden's update there: d[{j}] = {layer['delta']} (f' = {layer['fprime']}, {behind}), "
                f"x[{i}] = {layer['x']}, d*x = {layer['product']},",
                f"      step = shift_right({layer['product']}, {layer['update_shift']}, {layer['rounding']}) = "
                f"{layer['step']}, weight {layer['before']} - {layer['step']} = {layer['golden']}",
            ]
    if "trace" in report:
        t = report["trace"]
        lines += [f"  trace: {t['path']} holds sample {t['sample']}: its INFER from {t['start_ns']:,} ns, its training "
                  f"(EPOCH) from {t['train_ns'][0]:,} to {t['train_ns'][1]:,} ns,",
                  f"    the weights read until {t['end_ns']:,} ns ({t['period_ns']} ns a clock cycle); open it with "
                  f"gtkwave {t['path']} or surfer {t['path']}"]
    else:
        lines.append("  add --trace PATH.fst for a waveform of that sample")
    return "\n".join(lines)
