"""An aiohttp.web backend that promotes Sevalla pipelines through sevalla-async.

The web app owns one :class:`aiohttp.ClientSession`, created in its ``cleanup_ctx`` (inside
the app's event loop) and lent to the :class:`SevallaClient`: the SDK uses it and never
closes it, so the app keeps one connection pool for everything it calls.

::

    POST /promote  {"pipeline_id": "...", "source_app_id": "...", "target_app_ids": ["..."]}
      200  {"promotions": [{"target_app_id": "...", "deployment_id": "..."}]}
      400  {"error": "target_app_ids[1]: 'x' is not a valid UUID ..."}   nothing was sent
      502  {"error": "...", "status": 404, "request_id": "..."}          the API refused
      504  {"error": "..."}                                              the API did not answer

Run it (without ``SEVALLA_API_KEY`` an embedded FakeSevalla plays the API and a ready
``curl`` command is printed)::

    python examples/aiohttp_backend.py [--port 8080]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Sequence

import aiohttp
from aiohttp import web

from sevalla_async import APIError, APIStatusError, APITimeoutError, PromoteRequest, SevallaClient

SESSION = web.AppKey("session", aiohttp.ClientSession)
SEVALLA = web.AppKey("sevalla", SevallaClient)


def create_app(*, api_key: str | None = None, base_url: str | None = None) -> web.Application:
    """The web app; ``api_key``/``base_url`` default to the environment variables."""
    app = web.Application()

    async def http_clients(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as session:
            app[SESSION] = session
            async with SevallaClient(api_key, base_url=base_url, session=session) as sevalla:
                app[SEVALLA] = sevalla
                yield
        # leaving: the SDK let go of the session, then the session was closed

    app.cleanup_ctx.append(http_clients)
    app.router.add_post("/promote", promote)
    return app


async def promote(request: web.Request) -> web.Response:
    """Validate the body, promote, and map the SDK's errors to HTTP statuses."""
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": "the body must be JSON"}, status=400)
    try:
        wanted = PromoteRequest.from_dict(body)
    except ValueError as exc:  # names the field; nothing was sent
        return web.json_response({"error": str(exc)}, status=400)
    try:
        promotions = await request.app[SEVALLA].pipelines.promote_request(wanted)
    except APIStatusError as exc:
        return web.json_response(
            {"error": exc.message, "status": exc.status_code, "request_id": exc.request_id},
            status=502,
        )
    except APITimeoutError as exc:
        return web.json_response({"error": exc.message}, status=504)
    except APIError as exc:  # no usable reply: connection lost, malformed body...
        return web.json_response({"error": exc.message}, status=502)
    return web.json_response(
        {
            "promotions": [
                {"target_app_id": str(p.target_app_id), "deployment_id": str(p.deployment_id)}
                for p in promotions
            ]
        }
    )


async def serve(port: int) -> None:
    """Serve until Ctrl-C / SIGTERM, with an embedded FakeSevalla when there is no key."""
    fake = None
    if not os.environ.get("SEVALLA_API_KEY"):
        from sevalla_async.testing import FakeSevalla

        fake = await FakeSevalla().start()
    app = create_app(
        api_key=fake.api_key if fake else None, base_url=fake.base_url if fake else None
    )
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        host, bound = runner.addresses[0][:2]
        print(f"Listening on http://{host}:{bound} (Ctrl-C to stop)", flush=True)
        if fake is not None:
            sample = fake.promote_requests(1, targets=2)[0]
            body = {
                "pipeline_id": str(sample.pipeline_id),
                "source_app_id": str(sample.source_app_id),
                "target_app_ids": [str(t) for t in sample.target_app_ids],
            }
            print(f"No SEVALLA_API_KEY: an embedded FakeSevalla at {fake.base_url} plays the API")
            print(
                f"Try: curl -s -X POST http://{host}:{bound}/promote "
                f"-H 'Content-Type: application/json' -d '{json.dumps(body)}'",
                flush=True,
            )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
        if fake is not None:
            await fake.close()


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8080, help="port (0: any free one)")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
