"""The learner core as Verilog, with a JSON description beside it (``trifactor generate``, the simulators).

``DIR/<name>.v`` is the core for the configuration; ``DIR/<name>.json`` its ports,
command protocol, memory map, number formats and cycle budget per training sample.
"""

import json
from pathlib import Path

from trifactor.golden.config import Config
from trifactor.hdl.core.learner import LearnerCore
from trifactor.hdl.lanes.lane_banks import placement_summary
from trifactor.hdl.protocol import ACK, ERROR, Op, counter_names

from ..util.output import write_if_changed


def _conv_geometry(spec) -> dict:
    """A convolution layer's ``[[conv]]`` table and shapes (docs/configuration.md#convolution-layers); none for a
    dense one."""
    conv = spec.conv
    if conv is None:
        return {}
    return {"conv": {**conv.to_dict(), "input": list(conv.in_shape), "output": list(conv.out_shape),
                     "positions": conv.positions, "window": conv.fan_in}}


def describe(core: LearnerCore) -> dict:
    cfg, layout = core.config, core.layout
    return {
        "name": cfg.name,
        "ports": {
            "clk": "clock", "rst": "synchronous reset, active high",
            "i": {"width": 32, "kind": "stream (i__valid, i__ready, i__payload)", "direction": "in"},
            "o": {"width": 32, "kind": "stream (o__valid, o__ready, o__payload)", "direction": "out"},
        },
        "protocol": {
            "header": "opcode in bits 0-3, label in bits 8-23",
            "opcodes": {op.name.lower(): int(op) for op in Op if op < Op.STORE},  # generate's core has no store
            "ack": ACK, "error": ERROR, "counters": list(counter_names(cfg)),
            "words": {"train": cfg.sizes[0], "infer": cfg.sizes[0], "load": layout.depth * cfg.lanes,
                      "read": layout.depth * cfg.lanes},
        },
        "memory_map": {
            "lanes": cfg.lanes, "bank_depth": layout.depth, "bank_width": cfg.weight.width,
            "bank_placement": cfg.bank_placement, "banks": placement_summary(cfg),
            "layers": [{"layer": l, "base": layout.base(l), "groups": layout.groups(l), "words_per_bank": layout.words(l),
                        **_conv_geometry(cfg.layers[l])} for l in range(cfg.n_layers)],
            "weight_address": "W_l[j, i] is in bank j % lanes at base_l + (j // lanes) * (n_in + 1) + i (i = n_in: bias; "
                              "a convolution's j is its channel and i its window element, (ky, kx, c) order)",
            **({"learned_feedback": [{"hidden_layer": l, "base": layout.learned_base(l), "groups": layout.groups(l),
                                      "words_per_bank": layout.groups(l) * cfg.n_classes}
                                     for l in range(layout.learned_layers)],
                "learned_address": "B_l[j, c] is in bank j % lanes at learned_base_l + (j // lanes) * n_classes + c"}
               if layout.learned_layers else {}),
            "activation_words": core.act_depth, "fprime_bits": core.fp_depth,
        },
        "cycles_per_sample": cfg.cycle_budget(),
        "config": cfg.to_dict(),
    }


def generate(config: Config, out: Path, seed: int = 0) -> tuple[Path, Path]:
    from amaranth.back import verilog
    config.check_hardware()
    core = LearnerCore(config, seed=seed)
    description = describe(core)
    verilog_text = verilog.convert(core, name=config.name, emit_src=False)
    v_path, j_path = out / f"{config.name}.v", out / f"{config.name}.json"
    write_if_changed(v_path, verilog_text)
    write_if_changed(j_path, json.dumps(description, indent=2) + "\n")
    return v_path, j_path
