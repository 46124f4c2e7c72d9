"""Serves a simulation on a TCP socket until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys

from aiohttp import web

from atlassian_operator.simulator import admin, api
from atlassian_operator.simulator.simulation import Simulation, SimulatorConfig


def build_app(simulation: Simulation) -> web.Application:
    app = web.Application()
    app[api.SIMULATION] = simulation
    # Admin routes first: the API's catch-all route would otherwise answer for them.
    admin.add_routes(app)
    api.add_routes(app)
    return app


async def serve(config: SimulatorConfig, host: str, port: int) -> None:
    simulation = Simulation(config)
    # Bind first so that port 0 resolves to a real port before anything is announced.
    sock = socket.create_server((host, port))
    bound_port = sock.getsockname()[1]
    url_host = f"[{host}]" if ":" in host else host
    simulation.base_url = f"http://{url_host}:{bound_port}"
    # No access log: ours, in api.py, is the one that is known never to print headers.
    runner = web.AppRunner(build_app(simulation), access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        # Launchers read this exact line to learn the port; keep it stable.
        print(f"simulator listening on {simulation.base_url}", flush=True)
        await stop.wait()
        print("simulator stopping", file=sys.stderr, flush=True)
    finally:
        await runner.cleanup()
