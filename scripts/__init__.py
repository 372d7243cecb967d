"""Everything around the hardware that is not the hardware, in layers (each imports only those below it).

``cli``   the ``trifactor`` command line: one module per subcommand (arguments, printing)
``flow``  the core's Verilog and JSON, synthesis and board builds with the yowasp tools
``sim``   the Verilator recipe, the stream driver, simulated core and board drivers, the training session
``host``  the board client, its transports, the hardware as a model for golden's training loop
``util``  user errors, atomic output, machine facts, tables, plots

Tests (``tb/``) import ``host``, ``sim``, ``flow`` and ``util``; the command line only as a subprocess.
"""
