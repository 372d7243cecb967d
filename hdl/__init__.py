"""Amaranth components of the learner core (datapath units, core, board tops): not yet written.

``hdl`` may import ``golden`` for the configuration and the feedback tables (one source of truth).
"""
