"""The host link's frames: the CRC (host and hardware), frame encoding, value packing, and host-side errors."""

import random
import struct

import pytest
from amaranth import Module, Signal
from amaranth.sim import Simulator

from trifactor.hdl.frames import REQUEST_SYNC, Command, crc16, encode, value_bytes
from trifactor.hdl.host_link import BoardLink, crc16_update
from trifactor.hdl.uart import uart_divisor
from trifactor.scripts.host.client import signed_values

from conftest import make_config, run_trifactor
from test_cli import DIGITS, assert_user_error


def test_crc_is_crc16_ccitt_false():
    assert crc16(b"123456789") == 0x29B1  # the catalogue's check value


def test_a_frame_checks_to_zero_after_its_sync_byte():
    frame = encode(REQUEST_SYNC, Command.LOAD, bytes(range(40)))
    assert frame[0] == REQUEST_SYNC and struct.unpack("<HB", frame[1:4]) == (40, Command.LOAD)
    assert crc16(frame[1:]) == 0


def test_hardware_crc_equals_the_host_crc():
    crc, byte, out = Signal(16), Signal(8), Signal(16)
    m = Module()
    m.d.comb += out.eq(crc16_update(crc, byte))
    data = bytes(random.Random(5).randrange(256) for _ in range(200))

    async def bench(ctx):
        value = 0xFFFF
        for b in data:
            ctx.set(crc, value)
            ctx.set(byte, b)
            value = ctx.get(out)
        assert value == crc16(data)

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()


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
