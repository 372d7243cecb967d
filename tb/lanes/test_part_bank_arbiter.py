# amaranth: UnusedElaboratable=no
"""BankArbiter on its own: host LOAD / READ words, forward / update ownership of the banks and multipliers."""

import random

import numpy as np
import pytest

from trifactor.hdl.lanes.bank_arbiter import BankArbiter
from trifactor.hdl.layout import WeightLayout

from part_sim import CONFIGS, simulate


def check_arbiter(cfg, seed=0, wrong=False):
    rng = random.Random(seed)
    lay = WeightLayout(cfg)
    init = np.array([[rng.randint(cfg.weight.min, cfg.weight.max) for _ in range(lay.depth)] for _ in range(cfg.lanes)])
    dut = BankArbiter(cfg, init=init)
    if cfg.bank_placement == "spram":  # SPRAM has no initial contents: zeros, until the host LOADs
        init = np.zeros_like(init)
        assert list(dut.storage.data[0].init) == [0] * lay.depth
    else:
        assert [list(d.init) for d in dut.storage.data] == init.tolist()
    banks = init.copy()  # the model
    latency = dut.read_latency + (1 if wrong else 0)  # the wrong model waits a cycle too long

    async def host_stream(ctx, reads):
        """A new ``(addr, lane)`` every cycle: the word of the one ``latency`` cycles before shows now."""
        ctx.set(dut.host.own, 1)
        ctx.set(dut.host.hold, 0)
        for k in range(len(reads) + latency):
            if k < len(reads):
                ctx.set(dut.host.addr, reads[k][0])
            await ctx.tick()
            if k + 1 >= latency and k + 1 - latency < len(reads):
                addr, lane = reads[k + 1 - latency]
                ctx.set(dut.host.lane, lane)
                assert ctx.get(dut.host.word) == banks[lane, addr], (addr, lane)

    async def host_read(ctx, addr, lane):
        """One word, then ``hold`` keeps every lane's word of ``addr`` while the address moves on."""
        ctx.set(dut.host.own, 1)
        ctx.set(dut.host.addr, addr)
        ctx.set(dut.host.lane, lane)
        for _ in range(latency):
            await ctx.tick()
        word = ctx.get(dut.host.word)
        ctx.set(dut.host.hold, 1)
        for _ in range(3):
            ctx.set(dut.host.addr, rng.randrange(lay.depth))  # ignored while held
            await ctx.tick()
            for p in rng.sample(range(cfg.lanes), cfg.lanes):
                ctx.set(dut.host.lane, p)
                assert ctx.get(dut.host.word) == banks[p, addr], (addr, p)
        ctx.set(dut.host.lane, lane)
        ctx.set(dut.host.hold, 0)
        return word

    async def bench(ctx):
        # the initial contents, through the host: streamed, then held
        await host_stream(ctx, [(rng.randrange(lay.depth), rng.randrange(cfg.lanes)) for _ in range(20)])
        for addr in rng.sample(range(lay.depth), min(lay.depth, 6)):
            lane = rng.randrange(cfg.lanes)
            assert await host_read(ctx, addr, lane) == banks[lane, addr]
        # host writes (address-major, lane-minor as LOAD does), then reads
        written = [(a, p) for a in rng.sample(range(lay.depth), 5) for p in range(cfg.lanes)]
        ctx.set(dut.host.own, 1)
        for addr, p in written:
            v = rng.randint(cfg.weight.min, cfg.weight.max)
            ctx.set(dut.host.addr, addr)
            ctx.set(dut.host.lane, p)
            ctx.set(dut.host.write, 1)
            ctx.set(dut.host.data, v)
            await ctx.tick()
            banks[p, addr] = v
        ctx.set(dut.host.write, 0)
        await ctx.tick()  # with the fast pipeline the last write lands a cycle later
        await host_stream(ctx, written)
        ctx.set(dut.host.own, 0)
        # forward owns the read ports and the multipliers unless update; update owns them and the write ports
        for update in (0, 1, 0, 1):
            ctx.set(dut.update, update)
            a_f, a_u = rng.sample(range(lay.depth), 2)
            for p in range(cfg.lanes):
                ctx.set(dut.forward_read[p].addr, a_f)
                ctx.set(dut.forward_read[p].en, 1)
                ctx.set(dut.update_read[p].addr, a_u)
                ctx.set(dut.update_read[p].en, 1)
            await ctx.tick()
            want = a_u if update else a_f
            for p in range(cfg.lanes):
                assert ctx.get(dut.forward_read[p].data) == banks[p, want], (update, p)
                assert ctx.get(dut.update_read[p].data) == banks[p, want], (update, p)
            # the update unit's writes (only while update), the forward side's idle
            a_w = rng.randrange(lay.depth)
            for p in range(cfg.lanes):
                v = rng.randint(cfg.weight.min, cfg.weight.max)
                ctx.set(dut.update_write[p].addr, a_w)
                ctx.set(dut.update_write[p].data, v)
                ctx.set(dut.update_write[p].en, 1)
                if update:
                    banks[p, a_w] = v
            await ctx.tick()
            for p in range(cfg.lanes):
                ctx.set(dut.update_write[p].en, 0)
            # the multipliers: the owner's operands, two enabled cycles later
            owner, other = (dut.update_mul, dut.forward_mul) if update else (dut.forward_mul, dut.update_mul)
            x, b = rng.randint(-50, 50), [rng.randint(-100, 100) for _ in range(cfg.lanes)]
            ctx.set(owner.x, x)
            ctx.set(owner.en, 1)
            ctx.set(other.x, x + 1)
            ctx.set(other.en, 1)
            for p in range(cfg.lanes):
                ctx.set(owner.b[p], b[p])
                ctx.set(other.b[p], -b[p] - 1)
            await ctx.tick()
            await ctx.tick()
            for p in range(cfg.lanes):
                assert ctx.get(owner.product[p]) == x * b[p] and ctx.get(other.product[p]) == x * b[p]
            ctx.set(dut.update, 0)
            for p in range(cfg.lanes):
                ctx.set(dut.forward_read[p].en, 0)
                ctx.set(dut.update_read[p].en, 0)
        # the host sees the update unit's writes
        await host_stream(ctx, [(addr, p) for addr in range(lay.depth) for p in range(cfg.lanes)])

    simulate(dut, bench)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_bank_arbiter_routes_as_the_model(name):
    check_arbiter(CONFIGS[name]())


@pytest.mark.parametrize("name", ["small", "fast_dense"])
def test_bank_arbiter_test_catches_a_wrong_model(name):
    with pytest.raises(AssertionError):
        check_arbiter(CONFIGS[name](), wrong=True)
