#!/usr/bin/env python3
"""CurveKeys: read from the certificate files pyzmq and `rigd keys` write, and set on both of the client's
sockets, checked against CURVE servers on loopback that take only a known client key (pyzmq's own
authenticator; the daemon's CURVE is tested end to end in test/cli/serve-curve.test.ts). A refused handshake
is HandshakeRefused at once, not a wait for the timeout.

    python3 python/tests/test_curve.py -v
"""
import json
import shutil
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from rigd_client import Client, CurveKeys, HandshakeRefused, StatusMessage, Subscriber  # noqa: E402


class CurveServer:
    """A ROUTER answering every request {"state": "idle"} and a PUB publishing status, both CURVE servers
    that take only the client keys in `allowed` (a folder of .key files)."""

    def __init__(self, server_secret_file: Path, allowed: Path) -> None:
        self.context = zmq.Context()
        self.auth = ThreadAuthenticator(self.context)
        self.auth.start()
        self.auth.configure_curve(domain="*", location=str(allowed))
        public, secret = zmq.auth.load_certificate(server_secret_file)
        self.router, self.control = self._bind(zmq.ROUTER, public, secret)
        self.pub, self.publish = self._bind(zmq.PUB, public, secret)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve)
        self.thread.start()

    def _bind(self, kind: int, public: bytes, secret: bytes):
        socket = self.context.socket(kind)
        socket.setsockopt(zmq.LINGER, 0)
        socket.curve_server = True
        socket.curve_publickey = public
        socket.curve_secretkey = secret
        port = socket.bind_to_random_port("tcp://127.0.0.1")
        return socket, f"tcp://127.0.0.1:{port}"

    def _serve(self) -> None:
        while not self.done.is_set():
            if self.router.poll(50):
                *envelope, _ = self.router.recv_multipart()
                self.router.send_multipart([*envelope, json.dumps({"ok": True, "result": {"state": "idle"}}).encode()])
            self.pub.send_multipart([b"status", json.dumps({"state": "idle"}).encode()])

    def close(self) -> None:
        self.done.set()
        self.thread.join()
        self.auth.stop()
        self.context.destroy(linger=0)


class CurveKeysTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.dir)
        self.server_key, self.server_secret = zmq.auth.create_certificates(self.dir, "server")
        self.client_key, self.client_secret = zmq.auth.create_certificates(self.dir, "client")
        _, self.stranger_secret = zmq.auth.create_certificates(self.dir, "stranger")
        allowed = self.dir / "allowed"
        allowed.mkdir()
        shutil.copy(self.client_key, allowed)

    def serve(self) -> CurveServer:
        server = CurveServer(Path(self.server_secret), self.dir / "allowed")
        self.addCleanup(server.close)
        return server

    def test_reads_the_server_public_key_and_the_client_key_pair(self) -> None:
        keys = CurveKeys.from_files(self.server_key, self.client_secret)
        self.assertEqual(keys.server_public, zmq.auth.load_certificate(self.server_key)[0])
        self.assertEqual((keys.client_public, keys.client_secret), zmq.auth.load_certificate(self.client_secret))
        self.assertEqual([len(k) for k in (keys.server_public, keys.client_public, keys.client_secret)], [40, 40, 40])

    def test_refuses_a_public_key_file_as_the_client_secret(self) -> None:
        with self.assertRaisesRegex(ValueError, r"client\.key holds no secret key: pass the client's \.key_secret file"):
            CurveKeys.from_files(self.server_key, self.client_key)

    def test_a_known_client_key_is_answered_and_receives_what_is_published(self) -> None:
        server = self.serve()
        keys = CurveKeys.from_files(self.server_key, self.client_secret)
        with Client(server.control, timeout=5.0, curve=keys) as rig, Subscriber(server.publish, ["status"], curve=keys) as sub:
            self.assertEqual(rig.status(), {"state": "idle"})
            self.assertEqual(sub.receive(timeout=5.0), StatusMessage({"state": "idle"}))

    def test_an_unknown_client_key_is_refused_at_once_on_both_sockets(self) -> None:
        server = self.serve()
        stranger = CurveKeys.from_files(self.server_key, self.stranger_secret)
        with Client(server.control, timeout=30.0, curve=stranger) as rig, Subscriber(server.publish, ["status"], curve=stranger) as sub:
            for _ in range(2):  # the client's next request meets the same refusal, not a REQ socket left mid-request
                t0 = time.monotonic()
                with self.assertRaisesRegex(HandshakeRefused, r"^rigd at tcp://127\.0\.0\.1:\d+ does not accept this client's CURVE key \(ZAP status 400\)$") as raised:
                    rig.status()
                self.assertEqual((raised.exception.address, raised.exception.status), (server.control, 400))
                self.assertLess(time.monotonic() - t0, 5.0)  # not the 30 s timeout
            with self.assertRaisesRegex(HandshakeRefused, "does not accept this client's CURVE key"):
                sub.receive(timeout=30.0)

    def test_no_keys_or_a_wrong_server_key_fail_the_handshake(self) -> None:
        server = self.serve()
        wrong_server = CurveKeys.from_files(self.stranger_secret, self.client_secret)
        for curve in (None, wrong_server):
            with Client(server.control, timeout=30.0, curve=curve) as rig, Subscriber(server.publish, ["status"], curve=curve) as sub:
                with self.assertRaisesRegex(HandshakeRefused, "a wrong server key, or rigd requires CURVE keys and this client has none") as raised:
                    rig.status()
                self.assertIsNone(raised.exception.status)
                with self.assertRaises(HandshakeRefused):
                    sub.receive(timeout=30.0)

if __name__ == "__main__":
    unittest.main()
