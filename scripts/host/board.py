"""``--backend board``: golden's training loop, sample by sample, on a board at a serial port."""

from tqdm import tqdm

from ..util.errors import UsageError
from .client import BoardClient
from .model import train_on_hardware
from .transport import SerialTransport

__all__ = ["train_serial"]


def train_serial(config, split, epochs: int, seed: int, *, port: str, baud: int, quiet=False, per_sample=False):
    """Train the core on the board at ``port``; returns (result dict, weight arrays).

    When the board's core has a data store that holds the split (INFO says how many samples) and not
    ``per_sample``, the data set is stored once and every epoch runs on the board by itself
    (:func:`scripts.sim.stored.train_on_board`); otherwise each sample is a TRAIN request."""
    transport = SerialTransport(port, baud)
    try:
        client = BoardClient(transport, config)
        info = client.check()
        store_samples, n = info["store_samples"], len(split.y_train) + len(split.y_test)
        if info["store_in_flash"] and not per_sample:
            # the records are what trifactor flash --data wrote: this split's, if the counts agree
            if store_samples != n:
                raise UsageError(f"the board's flash store holds {store_samples} samples, {split.name} has {n}",
                                 f"build with --store {split.name} and write it with trifactor flash --data "
                                 f"{split.name}, or use --per-sample")
            return _train_stored(client, config, split, epochs, seed, store_samples, f"board {port} (flash)", quiet,
                                 flash=True)
        if not per_sample and store_samples >= n:
            return _train_stored(client, config, split, epochs, seed, store_samples, f"board {port} (stored)", quiet)
        bar = tqdm(total=epochs * len(split.y_train), unit="sample", desc=f"board {port}", disable=quiet or None,
                   leave=False, dynamic_ncols=True)
        with bar:
            def on_epoch(epoch, accuracy):
                bar.set_postfix(epoch=epoch + 1, test=f"{accuracy:.3f}")
            return train_on_hardware(client, config, split, epochs, seed, on_sample=bar.update, on_epoch=on_epoch)
    finally:
        transport.close()


def _train_stored(client, config, split, epochs, seed, store_samples, desc, quiet, flash=False):
    from ..sim.stored import train_on_board

    with tqdm(total=epochs, unit="epoch", desc=desc, disable=quiet or None, leave=False, dynamic_ncols=True) as bar:
        result, arrays = train_on_board(client, config, split, epochs, seed, store_samples,
                                        on_epoch=lambda epoch: bar.update(1), flash=flash)
    return result, arrays
