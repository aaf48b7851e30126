"""A core API server with the fake core, its event loop in a thread: what the API's and
the CLI's unit tests talk to."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from fake_core import FakeCore

from estiba.api.core.app import CoreAPI, error_reply
from estiba.api.core.server import Server
from estiba.client.core import CoreClient


class RunningAPI:
    def __init__(self, core: FakeCore, path: str, table: list | None = None) -> None:
        self.core = core
        self.path = path
        self.logged: list[tuple] = []
        self.executor = ThreadPoolExecutor(16)
        self.loop = asyncio.new_event_loop()
        kwargs = {} if table is None else {"table": table}
        app = CoreAPI(core, self.executor, self.log, **kwargs)
        self.server = Server(app, error_reply, self.executor, self.log)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.run(self.server.listen_unix(path))

    def log(self, level: str, msg: str, **fields: object) -> None:
        self.logged.append((level, msg, fields))

    def run(self, coro, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def client(self, namespace: str = "default") -> CoreClient:
        return CoreClient(self.path, namespace, timeout=10.0)

    def stop(self, grace: float = 2.0) -> None:
        self.run(self.server.shutdown(grace))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
