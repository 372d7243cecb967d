"""The host's BoardClient against a board behind a real pyserial port (``socket://``) whose replies come late.

The board sends a reply's header as soon as it takes a request, and its payload when the
run ends: an EPOCH of MNIST from flash takes minutes. The client must wait for the whole
reply, payload too, up to the run's worst case at the board's clock, not for the port's
2-second timeout; and a board that never sends the payload must end in one line, not hang.
"""

import socket
import struct
import threading
import time

import pytest

from trifactor.golden.config import load_config
from trifactor.hdl.link.frames import REPLY_SYNC, Error, FrameHeader, crc16, encode, pack, reply_length, Command
from trifactor.scripts.host import commands
from trifactor.scripts.host.client import BoardClient, BoardError
from trifactor.scripts.host.transport import SerialTransport

from conftest import DIGITS

CONFIG = load_config(DIGITS)
SAMPLES = 1437


class SlowBoard:
    """A TCP server standing in for a board: it reads one request frame and answers it with ``code`` and
    ``payload``, the header at once and the payload ``delay`` seconds later (never, if None)."""

    def __init__(self, code, payload: bytes, delay: float | None):
        self.code, self.payload, self.delay = code, payload, delay
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.request, self.done = None, threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        connection, _ = self.server.accept()
        self.server.close()
        with connection:
            head = connection.recv(4)
            length = head[1] | head[2] << 8
            rest = b""
            while len(rest) < length + 2:
                rest += connection.recv(length + 2 - len(rest))
            self.request = head + rest
            frame = encode(REPLY_SYNC, self.code, self.payload)
            header_bytes = 1 + FrameHeader.size // 8
            connection.sendall(frame[:header_bytes])
            if self.delay is not None:
                time.sleep(self.delay)
                connection.sendall(frame[header_bytes:])
            self.done.wait(30)

    def close(self, client):
        client.transport.close()
        self.done.set()
        self.thread.join(5)

    def client(self, clk_freq):
        client = BoardClient(SerialTransport(f"socket://127.0.0.1:{self.port}", 115200), CONFIG)
        client.clk_freq = clk_freq
        return client


def epoch_reply(correct, cycles, checksum):
    return struct.pack("<III", correct, cycles, checksum)


def test_the_client_waits_for_a_payload_that_comes_after_the_port_timeout():
    """The payload 2.5 s after the header; the port's timeout is 2 s. An EPOCH of SAMPLES at 1 MHz may take
    several seconds, so the client waits for it."""
    assert len(epoch_reply(0, 0, 0)) == reply_length(CONFIG, Command.EPOCH)
    board = SlowBoard(Command.EPOCH, epoch_reply(1234, 5_000_000, 0xCAFE), delay=2.5)
    client = board.client(clk_freq=1e6)
    assert client.transport.serial.timeout == 2.0
    start = time.monotonic()
    words = client.send(SAMPLES, commands.epoch(0, SAMPLES))
    assert words == [1234, 5_000_000, 0xCAFE]
    assert time.monotonic() - start >= 2.5
    board.close(client)


def test_a_board_that_never_ends_the_run_is_one_line_after_the_worst_case():
    """The header only: the client gives up once the run's worst case (twice over) has passed, with a BoardError."""
    board = SlowBoard(Command.EVALUATE, epoch_reply(1, 2, 3), delay=None)
    client = board.client(clk_freq=1e9)  # a run of 1 sample at 1 GHz: the wait is the port's 2 s
    start = time.monotonic()
    with pytest.raises(BoardError, match="stopped answering"):
        client.send(SAMPLES, commands.evaluate(0, 1))
    assert 1.9 < time.monotonic() - start < 10
    board.close(client)


def test_an_error_reply_names_its_fix():
    """NOT_STORED: the board's store was never written; the one line says to store the data set first."""
    board = SlowBoard(Error.NOT_STORED, b"", delay=0)
    client = board.client(clk_freq=12e6)
    with pytest.raises(BoardError, match="NOT_STORED; fix: store the data set first"):
        client.send(SAMPLES, commands.epoch(0, 10))
    board.close(client)
