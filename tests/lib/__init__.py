"""What every Python suite shares (README.md): the WebSocket and HTTP bytes
(wire), a sync front over sockets (rawhttp, syncws), an asyncio front
(asyncws), and the relay process (relayproc)."""
