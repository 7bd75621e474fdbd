"""``agentgate serve | migrate | seed | demo | rotate-keys | activity verify``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from gateway.config import Settings
from gateway.migrate import upgrade
from seeds.people import PEOPLE
from services.common.db import is_sqlite


def _ensure_sqlite_dir(url: str) -> None:
    if is_sqlite(url) and ":///" in url:
        path = url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


def migrate(settings: Settings) -> None:
    _ensure_sqlite_dir(settings.database_url)
    upgrade(settings.database_url)


def seed(settings: Settings) -> bool:
    from seeds.loader import seed as load

    return asyncio.run(load(settings.database_url))


def rotate_keys(settings: Settings, purposes: list[str]) -> dict[str, str]:
    from gateway.oauth.keys import rotate_keys as rotate
    from services.common.db import make_engine, make_sessionmaker

    async def run() -> dict[str, str]:
        engine = make_engine(settings.database_url)
        try:
            return await rotate(make_sessionmaker(engine), purposes)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def verify_activity(settings: Settings) -> bool:
    """Walk the activity chain; print OK with the count, or the first broken entry."""
    from gateway.activity.verify import verify_chain
    from services.common.db import make_engine, make_sessionmaker

    async def run() -> bool:
        engine = make_engine(settings.database_url)
        try:
            verdict = await verify_chain(make_sessionmaker(engine))
        finally:
            await engine.dispose()
        print(verdict)
        return verdict.ok

    return asyncio.run(run())


def serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from gateway.app import create_app

    migrate(settings)
    seeded = seed(settings)
    url = f"http://{host}:{port}"
    print(f"\n  agentgate is serving at {url}")
    print(f"  database: {settings.database_url}" + (" (demo data loaded)" if seeded else ""))
    print("  demo logins:")
    for person in PEOPLE.values():
        print(f"    {person.username:<6} / {person.password}")
    print()
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning",
                proxy_headers=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agentgate", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="migrate, seed an empty database, and serve")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8000)
    commands.add_parser("migrate", help="upgrade the database to the newest schema")
    commands.add_parser("seed", help="load the demo data into an empty database")
    commands.add_parser("demo", help="run the agent story in-process on a throwaway database, "
                        "narrated; exit 1 if any step misbehaves")
    rotate_cmd = commands.add_parser(
        "rotate-keys", help="make new signing keys current; the old ones stay published "
        "for the overlap, so tokens in flight keep verifying")
    rotate_cmd.add_argument("--purpose", choices=["access", "txn", "all"], default="all")
    activity_cmd = commands.add_parser("activity", help="the activity record")
    activity_commands = activity_cmd.add_subparsers(dest="activity_command", required=True)
    activity_commands.add_parser("verify", help="check the hash chain; exit 1 if it is broken")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings()
    if args.command == "serve":
        serve(settings, args.host, args.port)
    elif args.command == "migrate":
        migrate(settings)
        print("database is at the newest schema")
    elif args.command == "seed":
        migrate(settings)
        print("demo data loaded" if seed(settings) else "database already has people; unchanged")
    elif args.command == "demo":
        try:
            from gateway.demo import run as run_demo
        except ModuleNotFoundError as missing:
            if missing.name not in ("examples", "examples.agent"):
                raise
            print("agentgate demo runs the tutorial agent in examples/agent/, which is not "
                  "installed with the package: run it from a clone of the repository "
                  "(make demo).", file=sys.stderr)
            return 2
        return run_demo()
    elif args.command == "rotate-keys":
        migrate(settings)
        purposes = ["access", "txn"] if args.purpose == "all" else [args.purpose]
        for purpose, kid in rotate_keys(settings, purposes).items():
            print(f"{purpose}: new signing key {kid}; running gateways switch to it within "
                  f"{settings.key_refresh_seconds:g} s")
    elif args.command == "activity":
        return 0 if verify_activity(settings) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
