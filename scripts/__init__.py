"""The ``trifactor`` command line: one module per subcommand, user errors as one line (see cli.py)."""
