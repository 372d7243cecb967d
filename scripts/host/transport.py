"""A board's USB serial port as the byte transport of :class:`scripts.host.client.BoardClient` (pyserial)."""

from ..util.errors import UsageError

__all__ = ["SerialTransport"]


class SerialTransport:
    def __init__(self, port: str, baud: int, timeout: float = 2.0):
        import serial

        try:
            # a device path, or any pyserial URL (socket://host:port, rfc2217://...: a board behind a network)
            self.serial = serial.serial_for_url(port, baud, timeout=timeout)
        except (serial.SerialException, ValueError) as exc:
            raise UsageError(f"cannot open serial port {port}: {exc}",
                             "check --port (ls /dev/ttyUSB* /dev/ttyACM*) and that you may use it "
                             "(the dialout group)") from None
        self.name = port
        self.serial.reset_input_buffer()

    def write(self, data: bytes):
        self.serial.write(data)

    def read(self, n: int, wait: float | None = None) -> bytes:
        """``n`` bytes, or fewer when the port's timeout passes (``wait`` seconds, if longer)."""
        if wait is None or wait <= self.serial.timeout:
            return self.serial.read(n)
        timeout, self.serial.timeout = self.serial.timeout, wait
        try:
            return self.serial.read(n)
        finally:
            self.serial.timeout = timeout

    def close(self):
        self.serial.close()
