"""``trifactor flash``: program a board with the bitstream ``trifactor build`` made.

The programmer is openFPGALoader (the iCEBreaker also works with icestorm's iceprog);
neither comes from PyPI, so a missing one is named with its Debian package.
``--dry-run`` prints the command without needing the tool, the board or the bitstream's
contents.

``--data DATASET`` also writes the data set's image (:func:`hdl.store.data_store.flash_image`, the
split ``trifactor train`` uses) to the flash at the board's ``data_offset``, after the
bitstream, for a core built with ``trifactor build --store DATASET`` (in flash, the
iCEBreaker's default). The image is kept as ``build/boards/<board>/<name>-store/data-<dataset>.bin``,
beside that build's bitstream: ``--data`` (or ``--store``) programs the build with a data store.
"""

import shlex
import shutil
import subprocess
from pathlib import Path

from trifactor.golden.config import load_config
from trifactor.hdl.boards.board import BOARDS

from ..flow.board_build import bitstream_path
from ..util.errors import UsageError

INSTALL = {"openFPGALoader": "sudo apt-get install openfpgaloader", "iceprog": "sudo apt-get install fpga-icestorm"}


def add_arguments(parser):
    parser.add_argument("--board", required=True, choices=list(BOARDS))
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--config", help="the configuration trifactor build was given (finds its bitstream)")
    which.add_argument("--bitstream", metavar="PATH", help="program this file instead")
    parser.add_argument("--data", metavar="DATASET",
                        help="also write DATASET (train and test samples, quantised for --config) to the flash after "
                             "the bitstream, for a core built with --store DATASET (implies --store)")
    parser.add_argument("--store", action="store_true",
                        help="with --config: the bitstream trifactor build --store made (the core with a data store)")
    parser.add_argument("--dry-run", action="store_true", help="print the programming commands and exit")


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
    store = args.store or args.data is not None
    path = bitstream_path(board.name, config.name, store)
    if not path.is_file():
        raise UsageError(f"no bitstream for {config.name} on the {board.name} ({path} does not exist)",
                         f"run trifactor build --config {args.config} --board {board.name}"
                         + (f" --store {args.data or 'DATASET'}" if store else "") + " first")
    return path


def offset_option(command: list, offset: int) -> list:
    """``command`` (:func:`programmer_command`) writing its file at flash address ``offset`` instead of 0."""
    return [*command[:-1], "-o", str(offset), command[-1]]  # iceprog and openFPGALoader both spell it -o


def data_image(args, board) -> Path:
    """The data set's flash image for ``--config``, written (atomically) beside the board's bitstream."""
    from trifactor.golden.train import load_data
    from trifactor.scripts.sim.stored import split_image
    from trifactor.scripts.util.checks import check_store_room
    from trifactor.scripts.util.output import write_atomic

    if not args.config:
        raise UsageError("--data needs --config (the configuration quantises the samples)",
                         "add --config, the one trifactor build was given")
    if board.data_offset is None:
        raise UsageError(f"the {board.name} has no data store in flash yet", "build with --store and --store-in memory; "
                                                                              "trifactor train then sends it with STORE")
    config = load_config(args.config)
    split = load_data(config, args.data)
    check_store_room(config, split, "use a smaller data set", flash_offset=board.data_offset)
    name = f"data-{args.data.replace(':', '-').replace('/', '-')}.bin"
    path = bitstream_path(board.name, config.name, store=True).with_name(name)  # beside the store build's bitstream
    path.parent.mkdir(parents=True, exist_ok=True)
    image = split_image(config, split)
    write_atomic(path, lambda f: f.write(image))
    return path


def _program(board, command, what):
    print(shlex.join(command), flush=True)
    status = subprocess.run(command).returncode  # the tool's own progress goes to the terminal
    if status != 0:
        raise UsageError(f"{command[0]} exited with status {status} programming the {board.name} with {what}",
                         "check that the board is plugged in and that you may open its USB device "
                         "(udev rules); the tool's messages are above")


def main(args) -> int:
    from trifactor.golden.data import check_name

    if args.data is not None:
        check_name(args.data)  # "" is refused, not taken for "no data"
    board = BOARDS[args.board]
    bitstream = _bitstream(args, board)
    image = data_image(args, board) if args.data is not None else None
    command = programmer_command(board, bitstream, installed_only=not args.dry_run)
    if command is None:
        raise _missing_programmer(board)
    commands = [(command, "the bitstream")]
    if image:
        commands.append((offset_option(programmer_command(board, image, installed_only=not args.dry_run),
                                       board.data_offset), f"{args.data} ({image.stat().st_size} bytes)"))
    if args.dry_run:
        print("\n".join(shlex.join(c) for c, _ in commands))
        return 0
    for c, what in commands:
        _program(board, c, what)
    print(f"programmed the {board.name} with {bitstream}"
          + (f" and {args.data} at flash address {board.data_offset:#x}" if image else ""))
    return 0
