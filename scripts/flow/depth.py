"""The logic levels in front of every register of a mapped netlist: where a faster clock has to cut.

nextpnr names one critical path per place-and-route, and which one depends on the seed. This census reads Yosys's
mapped netlist (the ``top.json`` that :func:`scripts.flow.synth.map_design` writes, before placement) and gives every
flip-flop, block RAM and DSP input the depth of the deepest combinational path into it, counted in LUTs: a LUT is one
level, a carry stage 1/20 of one (a carry chain is fast next to a LUT and its routing), an ECP5 slice multiplexer
(PFUMX, L6MUX21) 3/10. Paths are grouped by the signal they start from and the register they end in, so one wide
register counts once with its number of endpoints.

On the iCE40 UP5K a level costs about 2.6 ns on top of 2.6 ns of clock-to-out and setup (nextpnr's critical paths:
0.87 ns a LUT, 1.76 ns a short route), so 48 MHz (20.8 ns) leaves room for about 6 levels over short routes and 4 to 5
over the long ones a full part has. ``trifactor depth build/synth/<name>-up5k/top.json`` prints the groups at 5
levels or more; ``trifactor synth`` reports the deepest.
"""

import re
from dataclasses import dataclass

__all__ = ["DEEP_LEVELS", "DeepGroup", "LEVELS", "census", "deep_groups", "top_module"]

#: logic levels from which a path is listed (``trifactor synth``, ``trifactor depth``, part synth): about what 48 MHz
#: leaves on the UP5K
DEEP_LEVELS = 5

#: combinational cells: (cell type, input port or "*", output port or "*") -> logic levels; first match wins
LEVELS = [
    ("SB_CARRY", "*", "*", 0.05), ("SB_LUT4", "*", "*", 1.0),
    ("CCU2C", "CIN", "*", 0.05), ("CCU2C", "*", "*", 1.0), ("LUT4", "*", "*", 1.0),
    ("PFUMX", "*", "*", 0.3), ("L6MUX21", "*", "*", 0.3),
]
COMBINATIONAL = {cell for cell, *_ in LEVELS}
CLOCKS = {"C", "CLK", "RCLK", "WCLK", "CLOCK", "CLKA", "CLKB", "CLK0", "CLK1", "CLK2", "CLK3"}
#: Yosys's and the mappers' suffixes on a cell name: ``core.x_SB_DFFE_Q_1`` is register ``core.x``
SUFFIX = re.compile(r"_(SB_|TRELLIS_|DP16KD|MULT18X18D|ALU54B|LUT4|CCU2C|PFUMX|L6MUX21).*$")


@dataclass(frozen=True)
class DeepGroup:
    """Paths from one signal into one register: their ``levels`` (the deepest), how many ``endpoints`` (register
    bits or cell inputs) they reach, and the deepest one's ``path`` (the signals along it, first to last)."""

    start: str
    end: str
    levels: float
    endpoints: int
    path: tuple


def _level(cell_type, in_port, out_port) -> float:
    for cell, i, o, levels in LEVELS:
        if cell == cell_type and i in ("*", in_port) and o in ("*", out_port):
            return levels
    raise KeyError(cell_type)


def top_module(netlist: dict) -> str:
    """The name of the module Yosys marked as the design's top (``top`` for trifactor synth, the configuration's
    name for a board build)."""
    marked = [name for name, module in netlist["modules"].items()
              if int(str(module.get("attributes", {}).get("top", "0")) or "0", 2)]
    if len(marked) != 1:
        raise KeyError(f"{len(marked)} modules marked as the top")
    return marked[0]


def census(netlist: dict, top: str | None = None) -> list:
    """Every register, block RAM and DSP input bit of module ``top`` (default: :func:`top_module`) in the Yosys
    JSON ``netlist``: (levels, its cell and port, the signals along the deepest path into it), deepest first."""
    module = netlist["modules"][top or top_module(netlist)]
    cells = {name: cell for name, cell in module["cells"].items() if not cell["type"].startswith("$scopeinfo")}
    names = {}
    for name, net in sorted(module["netnames"].items(), key=lambda kv: (kv[1].get("hide_name", 0), kv[0].count("$"))):
        for bit in net["bits"]:
            if isinstance(bit, int) and bit not in names:
                names[bit] = name
    driver = {}
    for name, cell in cells.items():
        for port, bits in cell["connections"].items():
            if cell["port_directions"].get(port) == "output":
                driver.update({bit: (name, port) for bit in bits if isinstance(bit, int)})

    memo = {}

    def deepest(bit):  # iterative depth-first search: a netlist's chains can be thousands of cells long
        stack = [bit]
        while stack:
            top_bit = stack[-1]
            if top_bit in memo:
                stack.pop()
                continue
            source = driver.get(top_bit)
            if source is None or cells[source[0]]["type"] not in COMBINATIONAL:
                # a register, RAM or DSP by its cell's name; an input of the top by its net's
                memo[top_bit] = (0.0, (_register(source[0]) if source else _register(names.get(top_bit, str(top_bit))),))
                stack.pop()
                continue
            cell = cells[source[0]]
            inputs = [(port, b) for port, bits in cell["connections"].items()
                      if cell["port_directions"].get(port) == "input" for b in bits if isinstance(b, int)]
            pending = [b for _, b in inputs if b not in memo]
            if pending:
                stack.extend(pending)
                continue
            best = (0.0, ())
            for port, b in inputs:
                levels = memo[b][0] + _level(cell["type"], port, source[1])
                if levels > best[0] or not best[1]:
                    best = (levels, memo[b][1])
            memo[top_bit] = (best[0], best[1] + (names.get(top_bit, source[0]),))
            stack.pop()
        return memo[bit]

    ends = []
    for name, cell in cells.items():
        if cell["type"] in COMBINATIONAL:
            continue
        for port, bits in cell["connections"].items():
            if cell["port_directions"].get(port) != "input" or port in CLOCKS:
                continue
            for bit in bits:
                if isinstance(bit, int):
                    levels, path = deepest(bit)
                    ends.append((levels, f"{name}.{port}", path))
    ends.sort(key=lambda e: (-e[0], e[1]))
    return ends


def _register(name: str) -> str:
    """``core.sweeper.k`` for ``core.sweeper.k[3]`` or ``core.sweeper.k_SB_DFFESR_Q_2.E``."""
    return SUFFIX.sub("", re.sub(r"\[\d+\]$", "", name))


def deep_groups(ends: list, levels: float = DEEP_LEVELS) -> list:
    """The paths of a :func:`census` (``ends``) at ``levels`` or more, grouped by (start signal, end register),
    deepest first."""
    groups = {}
    for depth, end, path in ends:
        if depth < levels:
            break
        key = (path[0], _register(end.rsplit(".", 1)[0]))
        if key in groups:
            groups[key][1] += 1
        else:
            groups[key] = [round(depth, 2), 1, path]
    return [DeepGroup(start, end, depth, count, path) for (start, end), (depth, count, path) in groups.items()]
