"""CURVE keys for a rigd that authenticates its clients (required when it binds beyond loopback)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Union

import zmq
import zmq.auth

from .errors import RigdError

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class CurveKeys:
    """The server's public key and this client's key pair, each 40 Z85 characters as ZeroMQ takes them."""

    server_public: bytes
    client_public: bytes
    client_secret: bytes

    @classmethod
    def from_files(cls, server_key: PathLike, client_secret_key: PathLike) -> CurveKeys:
        """Reads ZeroMQ certificate files: the server's NAME.key and this client's NAME.key_secret."""
        server_public, _ = zmq.auth.load_certificate(server_key)
        client_public, client_secret = zmq.auth.load_certificate(client_secret_key)
        if client_secret is None:
            raise ValueError(f"{os.fspath(client_secret_key)} holds no secret key: pass the client's .key_secret file, not its .key")
        return cls(server_public=server_public, client_public=client_public, client_secret=client_secret)

    def apply(self, socket: zmq.Socket) -> None:
        """Makes `socket` a CURVE client of the server; call before it connects."""
        if not zmq.has("curve"):
            raise RigdError(f"this libzmq ({zmq.zmq_version()}) was built without CURVE: install one with it (Debian's libzmq5 has it)")
        socket.curve_serverkey = self.server_public
        socket.curve_publickey = self.client_public
        socket.curve_secretkey = self.client_secret
