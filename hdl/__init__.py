"""The hardware: Amaranth components of the learner core, its error paths, host link, data store and board tops.

The folders are rooms by role; a room imports only the rooms below it, and another room only
through its package (``from ..store import DataStore``), never a sibling room's modules:

.. code-block:: text

    boards   board tops, PLLs, the simulated board, the measurement top
    link     UART, frames, deframer, request sequencer, reply framer, CRC; the core behind the link
    core     the learner core (a parent that only wires its parts) and its parts
    rules    the error paths (one per learning rule) and what only a rule needs
    store    the data store, epoch runner, record sources, SPI flash reader and model
    lanes    the P lane multipliers and weight banks every rule shares, and their arbiter
    (here)   definitions every room shares: arith, compare, errors, layout, protocol

``rules`` and ``store`` do not import each other. Every module may import :mod:`golden`
(the configuration, the feedback tables: one source of truth), and nothing under
:mod:`hdl` imports :mod:`scripts`. ``tb/test_imports.py`` checks these arrows.
"""
