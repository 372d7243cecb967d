"""``--backend board`` and ``--backend board-sim``: golden's training loop, sample by sample, through the host link.

Both run :func:`train_on_board` over a :class:`scripts.board_client.BoardClient`: on a
serial port here, or inside the simulator (``board-sim``, :mod:`scripts.board_session`,
started through :mod:`scripts.rtl_backend`) where the same client talks to the
simulated board top, UARTs included.
"""

from tqdm import tqdm

from trifactor.golden.train import train

from .board_client import BoardClient, BoardModel, SerialTransport


def train_on_board(client: BoardClient, config, split, epochs: int, seed: int, on_sample=None, on_epoch=None):
    """Train on the board from golden's initialisation for ``seed``; returns (result dict, weight arrays)."""
    model = BoardModel(client, config, seed)
    result = train(model, split, epochs, seed, on_sample=on_sample, on_epoch=on_epoch)
    counters = model.train_counters()
    samples = max(1, counters["samples"])
    result.update({
        "cycles_per_sample": counters["cycles"] / samples,
        "macs_per_sample": config.macs_per_sample,
        "macs_done_per_sample": counters["macs_done"] / samples,
        "macs_skipped_per_sample": counters["macs_skipped"] / samples,
        "counters": counters,
    })
    return result, model.arrays()


def train_serial(config, split, epochs: int, seed: int, *, port: str, baud: int, quiet=False):
    """``--backend board``: the core on a board at ``port``."""
    transport = SerialTransport(port, baud)
    bar = tqdm(total=epochs * len(split.y_train), unit="sample", desc=f"board {port}", disable=quiet or None,
               leave=False, dynamic_ncols=True)
    try:
        with bar:
            def on_epoch(epoch, accuracy):
                bar.set_postfix(epoch=epoch + 1, test=f"{accuracy:.3f}")
            return train_on_board(BoardClient(transport, config), config, split, epochs, seed,
                                  on_sample=bar.update, on_epoch=on_epoch)
    finally:
        transport.close()
