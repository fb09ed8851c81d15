"""What the client raises: every error of its own is a RigdError."""
from __future__ import annotations

from typing import Optional


class RigdError(Exception):
    """Base of the errors this package raises."""


class RequestError(RigdError):
    """rigd answered a request with an error: `code` is rigd's own (not_recording, busy, invalid_out, ...)."""

    def __init__(self, cmd: str, code: str, message: str) -> None:
        super().__init__(f"rigd refused {cmd!r}: {code}: {message}")
        self.cmd = cmd
        self.code = code
        self.message = message


class RigdTimeout(RigdError, TimeoutError):
    """Nothing came from rigd in time: no answer to the request `cmd`, or (cmd None) no published message."""

    def __init__(self, message: str, address: str, timeout: float, cmd: Optional[str] = None) -> None:
        super().__init__(message)
        self.address = address
        self.timeout = timeout
        self.cmd = cmd


class HandshakeRefused(RigdError):
    """The connection to rigd failed its security handshake: a client key rigd does not accept (`status`: ZAP's
    400), a wrong server key, or no keys where rigd requires them (or keys where it takes none)."""

    def __init__(self, message: str, address: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.address = address
        self.status = status
