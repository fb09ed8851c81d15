"""Waiting on a socket while watching its handshakes: a refused key would otherwise look like a silent rigd."""
from __future__ import annotations

from typing import Optional

import zmq
from zmq.utils.monitor import recv_monitor_message

from .errors import HandshakeRefused

_FAILED = zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_AUTH


class Watched:
    """`socket`, connected to `address`, and a monitor of its failed handshakes."""

    def __init__(self, socket: zmq.Socket, address: str) -> None:
        self.socket = socket
        self.address = address
        self._monitor = socket.get_monitor_socket(_FAILED)
        self._poller = zmq.Poller()
        self._poller.register(socket, zmq.POLLIN)
        self._poller.register(self._monitor, zmq.POLLIN)

    def poll(self, timeout: Optional[float]) -> bool:
        """Whether a message came within `timeout` seconds (None: waits for one); HandshakeRefused if rigd refused."""
        ready = dict(self._poller.poll(None if timeout is None else int(timeout * 1000)))
        if self.socket in ready:
            return True
        if self._monitor in ready:
            event = recv_monitor_message(self._monitor)
            if event["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                status = int(event["value"])
                raise HandshakeRefused(f"rigd at {self.address} does not accept this client's CURVE key (ZAP status {status})", self.address, status)
            raise HandshakeRefused(
                f"the security handshake with rigd at {self.address} failed: a wrong server key, or rigd requires CURVE keys and this client has none (or the other way round)",
                self.address,
            )
        return False

    def close(self) -> None:
        self.socket.disable_monitor()
        self._monitor.close()
        self.socket.close()
