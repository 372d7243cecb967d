"""Latency and throughput measured by a cocotb test, written beside its build (perf.json) and logged."""

import json
import os
from pathlib import Path

from sim import PARAMS_ENV


def write_perf(perf: dict, dut):
    Path(os.environ[PARAMS_ENV]).with_name("perf.json").write_text(json.dumps(perf, indent=1))
    dut._log.info("measured: %s", perf)
