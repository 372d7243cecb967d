"""The lane banks in SPRAM with ``[network] init = "zero"``: they clear themselves after configuration, so a core
starts with no initial-weight image and no LOAD (SPRAM holds anything at power-up)."""

import pytest

from trifactor.hdl.lanes import LaneBanks

from conftest import make_config
from part_sim import simulate


def zero_start_spram(init="zero"):
    return make_config([9, 7, 4], network={"activation": "hardtanh", "init": init},
                       hardware={"lanes": 3, "banks": "spram"})


@pytest.mark.parametrize("wrong", [False, True], ids=["clears", "broken-on-purpose"])
def test_spram_banks_clear_themselves_once(wrong):
    cfg = zero_start_spram()
    dut = LaneBanks(cfg)
    depth = dut.data[0].depth
    garbage = [(a * 0x9E3779B1 + 7) & ((1 << (cfg.lanes * cfg.weight.width)) - 1) for a in range(depth)]

    async def bench(ctx):
        for address, word in enumerate(garbage):  # what an SPRAM may hold at power-up
            ctx.set(dut.data[0][address], word)
        cycles = 0
        while ctx.get(dut.clearing):
            await ctx.tick()
            cycles += 1
        assert cycles == depth, f"cleared in {cycles} cycles, not one an address ({depth})"
        if wrong:  # a word the clear missed
            ctx.set(dut.data[0][depth - 1], garbage[-1])
        words = [ctx.get(dut.data[0][address]) for address in range(depth)]
        assert words == [0] * depth, f"{sum(w != 0 for w in words)} words are not cleared"
        await ctx.tick().repeat(3)
        assert not ctx.get(dut.clearing), "the clear ran again"

    if wrong:
        with pytest.raises(AssertionError, match="not cleared"):
            simulate(dut, bench)
    else:
        simulate(dut, bench)


def test_only_a_zero_start_on_spram_clears():
    block_ram = make_config([9, 7, 4], network={"activation": "hardtanh", "init": "zero"}, hardware={"lanes": 3})
    for banks in (LaneBanks(zero_start_spram("uniform")), LaneBanks(block_ram, init=[[0] * block_ram.bank_depth] * 3)):
        banks._MustUse__silence = True  # built to look at, not to elaborate
        assert not banks.clears and "clearing" not in banks.signature.members
