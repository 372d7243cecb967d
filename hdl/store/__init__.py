"""The data store: the samples in block RAM or in the board's SPI flash, the record sources that
read them, the order (a memory the host writes, or the LFSR order source), and the epoch runner that
trains over them without the host; the SPI flash reader and a model of the flash chip for simulation.

Imports: the shared definitions and :mod:`golden`.
"""

from .data_store import FLASH_HEADER, DataStore, FlashPlacement, store_bytes
from .epoch_runner import RESULT_FIELDS, EpochRunner, ResultLayout, RunLayout
from .flash_model import SpiFlashModel
from .lfsr_order import LfsrOrder
from .record_source import record_source
from .spi_flash import FlashPins, SpiFlashReader

__all__ = ["FLASH_HEADER", "DataStore", "FlashPlacement", "store_bytes", "RESULT_FIELDS", "EpochRunner",
           "ResultLayout", "RunLayout", "LfsrOrder", "SpiFlashModel", "record_source", "FlashPins", "SpiFlashReader"]
