"""The suite cannot reach the network by accident."""

import socket

import pytest


def test_connection_outside_loopback_is_refused():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(ConnectionRefusedError, match="network"):
            sock.connect(("192.0.2.1", 80))


def test_loopback_connection_is_allowed():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
