"""The floor: a raw `websockets` server that broadcasts each frame its publisher sends.

Clients connect to `/`; the publisher connects to `/publish`, and every text frame it sends goes
to every client with `websockets.broadcast` (one pre-serialized frame, no per-socket work beyond
the library's own). No auth, no JSON, no compression.

    python -m bench.floor --port PORT
"""

import argparse
import asyncio
import signal

from websockets.asyncio.server import broadcast, serve


async def main(port: int) -> None:
    clients: set = set()

    async def handler(websocket) -> None:
        if websocket.request.path == "/publish":
            async for frame in websocket:
                broadcast(clients, frame)
            return
        clients.add(websocket)
        try:
            await websocket.wait_closed()
        finally:
            clients.discard(websocket)

    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with serve(
        handler, "127.0.0.1", port, compression=None, ping_interval=None, max_size=None, backlog=1024
    ):
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(main(parser.parse_args().port))
