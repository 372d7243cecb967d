"""``trifactor flash``: program a board with the bitstream ``trifactor build`` made.

The programmer is openFPGALoader (the iCEBreaker also works with icestorm's iceprog);
neither comes from PyPI, so a missing one is named with its Debian package.
``--dry-run`` prints the command without needing the tool, the board or the bitstream's
contents.
"""

import shlex
import shutil
import subprocess
from pathlib import Path

from trifactor.golden.config import load_config
from trifactor.hdl.board import BOARDS

from ..flow.board_build import bitstream_path
from ..util.errors import UsageError

INSTALL = {"openFPGALoader": "sudo apt-get install openfpgaloader", "iceprog": "sudo apt-get install fpga-icestorm"}


def add_arguments(parser):
    parser.add_argument("--board", required=True, choices=list(BOARDS))
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--config", help="the configuration trifactor build was given (finds its bitstream)")
    which.add_argument("--bitstream", metavar="PATH", help="program this file instead")
    parser.add_argument("--dry-run", action="store_true", help="print the programming command and exit")


def programmer_command(board, bitstream: Path, *, installed_only=True):
    """The first of the board's programmers found on PATH, with ``bitstream``; the preferred one if
    ``installed_only`` is false and none is; None if none is."""
    for tool, *args in board.programmers:
        if shutil.which(tool):
            return [tool, *args, str(bitstream)]
    if installed_only:
        return None
    tool, *args = board.programmers[0]
    return [tool, *args, str(bitstream)]


def _missing_programmer(board) -> UsageError:
    tools = [tool for tool, *_ in board.programmers]
    if len(tools) == 1:
        return UsageError(f"{tools[0]} is not installed; it programs the {board.name}", INSTALL[tools[0]])
    return UsageError(f"none of {', '.join(tools)} is installed; one of them programs the {board.name}",
                      " or ".join(INSTALL[tool] for tool in tools))


def _bitstream(args, board) -> Path:
    if args.bitstream:
        path = Path(args.bitstream)
        if path.suffix != board.bitstream_suffix:
            raise UsageError(f"{path} is not a {board.bitstream_suffix} file, which the {board.name} needs",
                             f"use the {board.bitstream_suffix} file trifactor build --board {board.name} writes")
        if not path.is_file():
            raise UsageError(f"{path} does not exist", f"check the path, or run trifactor build --config CFG "
                                                       f"--board {board.name} first")
        return path
    config = load_config(args.config)
    path = bitstream_path(board.name, config.name)
    if not path.is_file():
        raise UsageError(f"no bitstream for {config.name} on the {board.name} ({path} does not exist)",
                         f"run trifactor build --config {args.config} --board {board.name} first")
    return path


def main(args) -> int:
    board = BOARDS[args.board]
    bitstream = _bitstream(args, board)
    if args.dry_run:
        print(shlex.join(programmer_command(board, bitstream, installed_only=False)))
        return 0
    command = programmer_command(board, bitstream)
    if command is None:
        raise _missing_programmer(board)
    print(shlex.join(command), flush=True)
    status = subprocess.run(command).returncode  # the tool's own progress goes to the terminal
    if status != 0:
        raise UsageError(f"{command[0]} exited with status {status} programming the {board.name}",
                         "check that the board is plugged in and that you may open its USB device "
                         "(udev rules); the tool's messages are above")
    print(f"programmed the {board.name} with {bitstream}")
    return 0
