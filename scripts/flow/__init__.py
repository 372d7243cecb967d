"""Flows around the yowasp tools and Amaranth's output: the core's Verilog, synthesis, board builds."""
