"""Everything around the hardware that is not the hardware, in layers (each imports only those below it).

``cli``   the ``trifactor`` command line: one module per subcommand (arguments, printing), over ``api``
``api``   the Python API: the package ``trifactor`` itself (pyproject.toml maps it here; import it as
          ``trifactor``, never as ``trifactor.scripts.api``): data sets, training, generate, synth, build
``flow``  the core's Verilog and JSON, synthesis and board builds with the yowasp tools
``sim``   the Verilator recipe, the stream driver, simulated core and board drivers, the training session
``host``  the board client, its transports, the hardware as a model for golden's training loop
``util``  user errors, atomic output, machine facts, tables, plots

Tests (``tb/``) import ``host``, ``sim``, ``flow`` and ``util``; the command line only as a subprocess.
"""
