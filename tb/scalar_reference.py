"""A second, independent implementation of the fixed-point spec: plain Python integers, one scalar at a time.

Written from docs/fixed-point.md, not from golden/fixed_model.py, in the loop order the
hardware runs (neuron by neuron, input by input). The tests require it to equal the
vectorised golden model exactly; when the two disagree, one of them misreads the spec.
"""

import math


def _shift(v, s, half_up):
    if s <= 0:
        return v << -s
    return (v + (1 << (s - 1))) >> s if half_up else v >> s


def _narrow(v, fmt, saturate):
    if saturate:
        return max(fmt.min, min(fmt.max, v))
    return ((v - fmt.min) % (1 << fmt.width)) + fmt.min


class ScalarChooser:
    """The hybrid rule's LFSR from its description: x^32 + x^22 + x^2 + x + 1, Galois, 16 steps a sample,
    BP when the top 16 bits are below round(bp_fraction * 65536); the seed mixed by the golden's constants."""

    def __init__(self, seed, bp_fraction):
        self.state = ((seed * 0x9E3779B1 + 0x2545F491) % (1 << 32)) or 1
        self.limit = round(bp_fraction * 65536)

    def next(self):
        for _ in range(16):
            out = self.state % 2
            self.state //= 2
            if out:
                self.state ^= (1 << 31) | (1 << 21) | (1 << 1) | 1
        return self.state // 65536 < self.limit


class ScalarNet:
    """Same state as ``FixedNet`` (``weights`` as lists of lists, bias last) and ``train_sample``."""

    def __init__(self, cfg, weights, feedback):
        self.cfg = cfg
        self.w = [[[int(v) for v in row] for row in w] for w in weights]
        self.fb = [(fb.index.tolist(), fb.sign.tolist(), fb.scale_shift) for fb in feedback]
        self.half_up = cfg.rounding.value == "half_up"
        self.upd_half_up = cfg.update_rounding.value == "half_up"
        self.sat = cfg.overflow.value == "saturate"
        self.chooser = ScalarChooser(cfg.feedback_seed, cfg.bp_fraction)

    def forward(self, x):
        cfg, layers = self.cfg, self.cfg.layers
        inputs, fprimes, h = [], [], [int(v) for v in x]
        for spec, w in zip(layers, self.w):
            xa = h + [spec.x.one]
            inputs.append(xa)
            out, fp = [], []
            for row in w:
                acc = 0
                for xi, wi in zip(xa, row):
                    acc += xi * wi
                assert -(1 << (spec.accumulator_width - 1)) <= acc < (1 << (spec.accumulator_width - 1))
                a = _shift(acc, spec.forward_shift, self.half_up)
                if not spec.hidden:
                    out.append(_narrow(a, cfg.act, self.sat))
                    fp.append(1)
                elif cfg.activation == "relu":
                    out.append(_narrow(max(a, 0), cfg.act, self.sat))
                    fp.append(1 if a > 0 else 0)
                else:
                    one = cfg.act.one
                    out.append(max(-one, min(one, a)))
                    fp.append(1 if -one < a < one else 0)
            fprimes.append(fp)
            h = out
        return inputs, fprimes, h

    def output_error(self, y, label):
        cfg = self.cfg
        if cfg.loss == "mse":
            p = [_shift(v, cfg.act.frac - cfg.error.frac, self.half_up) for v in y]
        else:
            steps = 1 << cfg.act.frac
            top = max(y)
            u = []
            for v in y:
                z = top - v
                n, f = z // steps, z % steps
                entry = math.floor(2.0 ** (cfg.softmax_frac - f / steps) + 0.5)
                u.append(entry >> min(n, 63))
            recip_bits = cfg.softmax_frac + cfg.error.frac + math.ceil(math.log2(len(y))) + 2
            r = (1 << recip_bits) // sum(u)
            p = [_shift(ui * r, recip_bits - cfg.error.frac, self.half_up) for ui in u]
        return [_narrow(pj - (cfg.error.one if j == label else 0), cfg.error, self.sat) for j, pj in enumerate(p)]

    def train_sample(self, x, label):
        cfg = self.cfg
        inputs, fprimes, y = self.forward(x)
        e = self.output_error(y, label)
        backprop = cfg.rule == "bp" or (cfg.rule == "hybrid" and self.chooser.next())
        deltas = [e]
        for layer in range(len(self.w) - 2, -1, -1):
            fp = fprimes[layer]
            d = []
            for j in range(len(fp)):
                if backprop:  # through the layer above's weights, before their update; no bias column
                    total = sum(row[j] * dk for row, dk in zip(self.w[layer + 1], deltas[0]))
                    d.append(_narrow(_shift(total, cfg.weight.frac, self.half_up), cfg.error, self.sat) if fp[j] else 0)
                else:
                    index, sign, scale = self.fb[layer]
                    total = sum(s * e[c] for c, s in zip(index[j], sign[j]))
                    d.append(_narrow(_shift(total, scale, self.half_up), cfg.error, self.sat) if fp[j] else 0)
            deltas.insert(0, d)
        for spec, w, xa, d in zip(cfg.layers, self.w, inputs, deltas):
            for j, row in enumerate(w):
                for i in range(len(row)):
                    step = _shift(d[j] * xa[i], spec.update_shift, self.upd_half_up)
                    row[i] = _narrow(row[i] - step, cfg.weight, self.sat)
        return y.index(max(y))
