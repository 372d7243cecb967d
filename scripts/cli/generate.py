"""``trifactor generate``: the learner core as Verilog, with a JSON description beside it (:mod:`scripts.flow.core_files`)."""

from pathlib import Path

import trifactor
from trifactor.golden.config import load_config
from trifactor.hdl.lanes.lane_banks import placement_summary

from ..util.checks import check_given, check_seed
from ..util.network import network_text
from ..util.output import check_folder


def add_arguments(parser):
    parser.add_argument("--config", required=True, help="TOML configuration")
    parser.add_argument("--out", help="output folder (default build/<name>)")
    parser.add_argument("--seed", type=int, default=0, help="initial weights: golden's initialisation with this seed, 0..4294967295")


def main(args) -> int:
    check_given(args.out, "--out")
    check_seed(args.seed)
    config = load_config(args.config)
    out = Path(args.out or Path("build") / config.name)
    check_folder(out, "--out")
    v_path, j_path = trifactor.generate(config, out, seed=args.seed)
    budget = config.cycle_budget()
    print(f"wrote {v_path} and {j_path}")
    print(f"{config.name}: {network_text(config)}, {config.lanes} lanes; "
          f"{budget['macs_per_sample']} MACs per training sample, roofline {budget['roofline']:.1f} cycles")
    print(f"weight banks: {placement_summary(config)}")
    return 0
