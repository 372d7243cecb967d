"""``--backend board``: golden's training loop, sample by sample, on a board at a serial port."""

from tqdm import tqdm

from .client import BoardClient
from .model import train_on_hardware
from .transport import SerialTransport

__all__ = ["train_serial"]


def train_serial(config, split, epochs: int, seed: int, *, port: str, baud: int, quiet=False):
    """Train the core on the board at ``port``; returns (result dict, weight arrays)."""
    transport = SerialTransport(port, baud)
    bar = tqdm(total=epochs * len(split.y_train), unit="sample", desc=f"board {port}", disable=quiet or None,
               leave=False, dynamic_ncols=True)
    try:
        with bar:
            def on_epoch(epoch, accuracy):
                bar.set_postfix(epoch=epoch + 1, test=f"{accuracy:.3f}")
            return train_on_hardware(BoardClient(transport, config), config, split, epochs, seed,
                                     on_sample=bar.update, on_epoch=on_epoch)
    finally:
        transport.close()
