"""The host link's frames: the CRC (host and hardware), frame encoding, value packing, and host-side errors."""

import random
import struct

import pytest
from amaranth.hdl import Shape, unsigned
from amaranth.lib.crc.catalog import CRC16_CCITT_FALSE
from amaranth.sim import Simulator

from trifactor.hdl.link.frames import (REQUEST_SYNC, Command, Error, FrameHeader, ReadHead, crc16, encode, pack, unpack,
                                  value_bytes)
from trifactor.hdl.link.host_link import BoardLink
from trifactor.hdl.link.uart import uart_divisor
from trifactor.scripts.host.client import signed_values

from conftest import make_config, run_trifactor
from conftest import DIGITS, assert_user_error


def test_crc_is_crc16_ccitt_false():
    assert crc16(b"123456789") == 0x29B1  # the catalogue's check value


def test_a_frame_checks_to_zero_after_its_sync_byte():
    frame = encode(REQUEST_SYNC, Command.LOAD, bytes(range(40)))
    assert frame[0] == REQUEST_SYNC and struct.unpack("<HB", frame[1:4]) == (40, Command.LOAD)
    assert crc16(frame[1:]) == 0


def test_hardware_crc_equals_the_host_crc():
    """The links' CRC unit (amaranth.lib.crc) against binascii, and its residue after a whole frame."""
    crc = CRC16_CCITT_FALSE(data_width=8).create()
    data = bytes(random.Random(5).randrange(256) for _ in range(200))
    frame = encode(REQUEST_SYNC, Command.LOAD, data)[1:]

    async def bench(ctx):
        for chunk, check in ((data, lambda: ctx.get(crc.crc) == crc16(data)), (frame, lambda: ctx.get(crc.match_detected))):
            ctx.set(crc.start, 1)
            await ctx.tick()
            ctx.set(crc.start, 0)
            ctx.set(crc.valid, 1)
            for b in chunk:
                ctx.set(crc.data, b)
                await ctx.tick()
            ctx.set(crc.valid, 0)
            assert check()

    sim = Simulator(crc)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def test_frame_layouts_are_the_wire_format():
    assert pack(FrameHeader, length=0x0102, code=Command.READ) == bytes([2, 1, Command.READ])
    assert unpack(FrameHeader, bytes([2, 1, Error.BAD_CRC])).code == Error.BAD_CRC
    assert pack(ReadHead, position={"address": 0x030201, "lane": 4}, count=0x0605) == bytes([1, 2, 3, 4, 5, 6])
    assert Shape.cast(Command) == Shape.cast(Error) == unsigned(8)


@pytest.mark.parametrize("width, size", [(1, 1), (8, 1), (9, 2), (16, 2), (17, 4), (32, 4)])
def test_value_bytes(width, size):
    assert value_bytes(width) == size


def test_signed_values_from_bit_patterns():
    assert signed_values([0x7FF, 0x800, 0xFFF, 0], 12).tolist() == [2047, -2048, -1, 0]


@pytest.mark.parametrize("clk, baud, words", [(2e6, 1_000_000, ["at least 4 MHz"]), (12e6, 2_500_000, ["off"])])
def test_impossible_baud_rates_are_refused(clk, baud, words):
    with pytest.raises(ValueError) as info:
        uart_divisor(clk, baud)
    for word in words:
        assert word in str(info.value)
    with pytest.raises(ValueError):
        BoardLink(make_config(), clk_freq=clk, baud=baud)


def test_board_backend_needs_a_port():
    assert_user_error(run_trifactor("train", "--backend", "board", "--config", DIGITS, "--quiet"), "--port")


def test_board_backend_names_a_port_it_cannot_open(tmp_path):
    result = run_trifactor("train", "--backend", "board", "--config", DIGITS, "--quiet",
                           "--port", str(tmp_path / "ttyNONE"))
    assert_user_error(result, "cannot open serial port", "ttyNONE")


def _table(markdown: str, first_header: str) -> list:
    """The rows of the markdown table whose first column is headed ``first_header``, as lists of cells."""
    lines = markdown.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_the_docs_describe_every_request_reply_and_info_field_as_frames_defines_them():
    """docs/hardware.md's tables of commands (their codes and digits' reply sizes), errors and INFO fields
    against hdl/link/frames.py; the docstrings' reply sizes too (they disagreed: 8 bytes, "2 words" and 12)."""
    from trifactor.golden.config import load_config
    from trifactor.hdl import protocol
    from trifactor.hdl.link import frames
    from trifactor.hdl.link.frames import INFO_FIELDS, INFO_FORMAT, reply_length
    from trifactor.hdl.store import RESULT_FIELDS
    from conftest import ROOT

    docs = (ROOT / "docs" / "hardware.md").read_text()
    digits = load_config(DIGITS)
    commands = _table(docs, "command")
    assert [row[0] for row in commands] == [c.name for c in Command], "every command, in code order"
    for name, code, _, _, size in commands:
        command = Command[name]
        assert int(code, 16) == command, name
        expected = reply_length(digits, command, count=1)
        assert size == (f"{expected} x count" if command == Command.READ else str(expected)), (name, size, expected)
    errors = _table(docs, "error")
    assert [(row[0], int(row[1], 16)) for row in errors] == [(e.name, int(e)) for e in Error]
    info = _table(docs, "field")
    sizes = [struct.calcsize("<" + char) for char in INFO_FORMAT[1:]]
    assert [(row[0], int(row[1])) for row in info] == list(zip(INFO_FIELDS, sizes))
    assert reply_length(digits, Command.INFO) == 4 + sum(sizes) == 28
    epoch = reply_length(digits, Command.EPOCH)
    assert epoch == 4 * len(RESULT_FIELDS) and f"({epoch})" in frames.__doc__ and f"{epoch} bytes" in frames.__doc__
    assert f"{len(RESULT_FIELDS)} words, one per field" in protocol.__doc__ and "2 words: the samples" not in protocol.__doc__
    assert "every board build today" not in docs
