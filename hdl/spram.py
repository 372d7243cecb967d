"""What marks a memory for the UP5K's SPRAM (SB_SPRAM256KA), and the Yosys commands that map it there: the lane
banks' (:mod:`hdl.lanes.lane_banks`); or a data store's order memory (:mod:`hdl.store.data_store`) and the
counters beside it (:class:`hdl.core.counters.SpramCounters`)."""

__all__ = ["SPRAM_ATTR", "spram_yosys_commands"]

#: the attribute on each memory of a design that goes to SPRAM
SPRAM_ATTR = "trifactor_spram"


def spram_yosys_commands(bits: int) -> str:
    """Yosys commands, after reading the design and before ``synth_ice40 -spram``, that let the memories marked
    :data:`SPRAM_ATTR`, the largest of ``bits`` bits, become SPRAM: SPRAM has no initial contents, so their (zero)
    initialisation is dropped (``bits`` undefined bits: a memory takes its own, all undefined), and
    ``ram_style = "huge"`` makes a memory that cannot become SPRAM an error, not 100 block RAMs."""
    return (f"proc; memory_collect; setattr -set ram_style \"huge\" a:{SPRAM_ATTR}; "
            f"setparam -set INIT {bits}'x a:{SPRAM_ATTR}")
