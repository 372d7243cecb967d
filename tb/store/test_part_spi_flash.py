"""The SPI flash reader against the W25Q128JV model (hdl/store/spi_flash.py, hdl/store/flash_model.py), in Amaranth simulation.

Every byte read must be the image's, at the reader's stated latency and rate, with a
consumer that stalls; the model must ignore commands while powered down and before tRES1,
which the reader must never trigger. Broken on purpose: a reader that skips the wake-up reads
0xFF and the model flags it; a model that shifted on the wrong edge would not return the image.
"""

import random

import pytest
from amaranth import Module, Signal
from amaranth.lib import wiring

from trifactor.hdl.store.flash_model import SpiFlashModel
from trifactor.hdl.store.spi_flash import CMD, JEDEC_ID, SpiFlashReader

from part_sim import simulate

CLK = 1e6  # part_sim's clock: tRES1 is 3 cycles
BASE = 0x100000


def pair(image, *, powered_down=True):
    m = Module()
    m.submodules.reader = reader = SpiFlashReader(CLK)
    m.submodules.flash = flash = SpiFlashModel(len(image) + 16, base=BASE, clk_hz=CLK, image=image,
                                               powered_down=powered_down)
    wiring.connect(m, reader.pins, flash.pins)
    return m, reader, flash


async def read(ctx, reader, address, count, stall=None):
    """``count`` bytes from ``address``; ``stall(n)``: cycles to hold ``ready`` low before byte ``n``.
    Returns (bytes, cycles from the request to the first byte)."""
    ctx.set(reader.request.payload.address, address)
    ctx.set(reader.request.payload.count, count)
    ctx.set(reader.request.valid, 1)
    await ctx.tick().until(reader.request.ready)
    ctx.set(reader.request.valid, 0)
    out, first = [], None
    for n in range(count):
        for _ in range(stall(n) if stall else 0):
            await ctx.tick()
        ctx.set(reader.data.ready, 1)
        waited = 0
        while not ctx.get(reader.data.valid):
            await ctx.tick()
            waited += 1
        if first is None:
            first = waited + 1  # the cycle that took the request, then those until valid
        out.append(ctx.get(reader.data.payload))
        await ctx.tick()
        ctx.set(reader.data.ready, 0)
    return bytes(out), first


@pytest.mark.parametrize("seed", [0, 1])
def test_reader_reads_the_image_byte_for_byte(seed):
    rng = random.Random(seed)
    image = bytes(rng.randrange(256) for _ in range(300))
    dut, reader, flash = pair(image)
    reads = [(BASE + a, n) for a, n in [(0, 1), (7, 40), (299, 1), (123, 150)]] + [(BASE + 290, 20)]

    async def bench(ctx):
        for address, count in reads:
            stall = (lambda n: rng.choice([0, 0, 1, 5])) if count > 10 else None
            got, first = await read(ctx, reader, address, count, stall)
            offset = address - BASE
            want = (image + b"\xff" * 16 + b"\xff" * 64)[offset:offset + count]
            assert got == want, f"{count} bytes at {address:#x}: read {got.hex()}, image {want.hex()}"
            if not stall:
                assert first == reader.first_byte_cycles, f"first byte after {first} cycles"
        assert not ctx.get(flash.ignored), "the model ignored a command of the reader's"

    simulate(dut, bench)


def test_reader_rate_is_a_byte_per_16_cycles():
    image = bytes(range(64))
    dut, reader, flash = pair(image)

    async def bench(ctx):
        ctx.set(reader.data.ready, 1)
        ctx.set(reader.request.payload.address, BASE)
        ctx.set(reader.request.payload.count, 64)
        ctx.set(reader.request.valid, 1)
        await ctx.tick().until(reader.request.ready)
        ctx.set(reader.request.valid, 0)
        at, cycle, got = [], 0, []
        while len(got) < 64:
            if ctx.get(reader.data.valid):
                got.append(ctx.get(reader.data.payload))
                at.append(cycle)
            await ctx.tick()
            cycle += 1
        assert bytes(got) == image
        gaps = {b - a for a, b in zip(at, at[1:])}
        assert gaps == {reader.cycles_per_byte}, gaps

    simulate(dut, bench)


def test_a_reader_that_does_not_wake_the_flash_reads_0xff_and_is_flagged():
    """Broken on purpose: the flash, asleep, is connected only after the reader's wake-up (0xAB) is over."""
    image = bytes(range(1, 33))
    m = Module()
    m.submodules.reader = reader = SpiFlashReader(CLK)
    m.submodules.flash = flash = SpiFlashModel(64, base=BASE, clk_hz=CLK, image=image)
    connected = Signal()
    m.d.comb += [flash.pins.cs.eq(reader.pins.cs & connected), flash.pins.sck.eq(reader.pins.sck),
                 flash.pins.copi.eq(reader.pins.copi), reader.pins.cipo.eq(flash.pins.cipo)]
    result = {}

    async def bench(ctx):
        await ctx.tick().until(reader.request.ready)
        ctx.set(connected, 1)
        result["bytes"], _ = await read(ctx, reader, BASE, 4)
        result["ignored"] = ctx.get(flash.ignored)

    simulate(m, bench)
    assert result["bytes"] == b"\xff" * 4, result["bytes"].hex()
    assert result["ignored"] == 1


def test_model_answers_jedec_id_and_ignores_commands_before_tres1():
    m = Module()
    # at 10 MHz tRES1 and tDP are 30 cycles: longer than a command's 16 cycles a byte
    m.submodules.flash = flash = SpiFlashModel(16, clk_hz=10e6, image=bytes(range(16)))
    pins = flash.pins

    async def command(ctx, bits_out, read_bytes=0):
        """Send bytes ``bits_out`` (mode 0, 2 cycles a bit), then read ``read_bytes``; CS high after."""
        ctx.set(pins.cs, 1)
        for byte in bits_out:
            for k in range(7, -1, -1):
                ctx.set(pins.copi, (byte >> k) & 1)
                await ctx.tick()
                ctx.set(pins.sck, 1)
                await ctx.tick()
                ctx.set(pins.sck, 0)
        got = []
        for _ in range(read_bytes):
            value = 0
            for _ in range(8):
                await ctx.tick()
                ctx.set(pins.sck, 1)
                await ctx.tick()
                value = (value << 1) | ctx.get(pins.cipo)
                ctx.set(pins.sck, 0)
            got.append(value)
        await ctx.tick()
        ctx.set(pins.cs, 0)
        for _ in range(2):
            await ctx.tick()
        return bytes(got)

    async def bench(ctx):
        assert await command(ctx, [CMD["jedec_id"]], 3) == b"\xff" * 3, "asleep: 0x9F must be ignored"
        assert ctx.get(flash.ignored)
        await command(ctx, [CMD["release_power_down"]])
        assert await command(ctx, [CMD["read"], 0, 0, 2], 2) == b"\xff\xff", "within tRES1: ignored"
        for _ in range(30):
            await ctx.tick()
        assert await command(ctx, [CMD["jedec_id"]], 3) == JEDEC_ID
        assert await command(ctx, [CMD["read"], 0, 0, 2], 3) == bytes([2, 3, 4])
        assert await command(ctx, [CMD["fast_read"], 0, 0, 14, 0], 3) == bytes([14, 15, 0xFF])
        await command(ctx, [CMD["power_down"]])
        for _ in range(30):
            await ctx.tick()
        assert await command(ctx, [CMD["read"], 0, 0, 2], 1) == b"\xff", "powered down again"

    simulate(m, bench)


@pytest.mark.parametrize("input_width", [5, 12])  # a byte a word; two bytes, little-endian
@pytest.mark.parametrize("source", ["memory", "flash"])
def test_record_sources_stream_the_stored_records(source, input_width):
    """MemoryRecords (sample memory) and FlashRecords (the flash image at a board's offset) give the same words,
    those of :func:`hdl.store.data_store.store_words`, for records asked in any order, with a consumer that stalls."""
    from conftest import make_config
    from trifactor.hdl.store.data_store import DataStore, FlashPlacement, flash_image, store_words
    from trifactor.hdl.store.record_source import record_source

    config = make_config([5, 4, 3], fixed={"input": {"width": input_width, "frac": 1}})
    rng = random.Random(input_width)
    n = 6
    x = [[rng.randint(-(1 << input_width - 1), (1 << input_width - 1) - 1) for _ in range(5)] for _ in range(n)]
    y = [rng.randrange(3) for _ in range(n)]
    words = store_words(config, x, y)
    flash = FlashPlacement(BASE, CLK) if source == "flash" else None
    store = DataStore(config, samples=n, flash=flash)
    if flash is None:
        store.sample_data.init = words
    m = Module()
    m.submodules.store, m.submodules.records = store, (records := record_source(store))
    if flash is None:
        wiring.connect(m, records.sample_read, store.sample_read)
    else:
        image = flash_image(config, x, y)
        m.submodules.flash = model = SpiFlashModel(len(image), base=BASE, clk_hz=CLK, image=image)
        wiring.connect(m, records.pins, model.pins)
    order = [3, 0, 5, 5, 1]

    async def bench(ctx):
        for record in order:
            ctx.set(records.request.payload, record)
            ctx.set(records.request.valid, 1)
            await ctx.tick().until(records.request.ready)
            ctx.set(records.request.valid, 0)
            got = []
            while len(got) < store.stride:
                ctx.set(records.words.ready, rng.random() < 0.7)
                await ctx.delay(1e-8)
                if ctx.get(records.words.valid) and ctx.get(records.words.ready):
                    got.append(ctx.get(records.words.payload))
                await ctx.tick()
            ctx.set(records.words.ready, 0)
            want = words[record * store.stride:(record + 1) * store.stride]
            assert got == want, f"record {record}: {got} != {want}"

    simulate(m, bench)
