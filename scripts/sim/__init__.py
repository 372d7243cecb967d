"""Simulation: the Verilator recipe, the stream driver, the drivers of the simulated core and board, and the
cocotb session that trains them (``--backend rtl`` and ``board-sim``) with golden's training loop."""
