"""Run Alembic from code (the CLI and the tests use the same entry point)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    # ConfigParser interpolation: a literal % in a URL (an encoded password) must be doubled.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def _outside_any_loop(work: Callable[[], None]) -> None:
    """Run ``work`` where ``asyncio.run`` may start a loop (migrations/env.py calls it).

    A caller that already runs a loop in this thread (an async test, Playwright's
    sync API) would make ``asyncio.run`` fail, so the work moves to a fresh thread.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        work()
        return
    failure: list[BaseException] = []

    def target() -> None:
        try:
            work()
        except BaseException as exc:  # re-raised in the caller's thread below
            failure.append(exc)

    thread = threading.Thread(target=target, name="alembic")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def upgrade(database_url: str, revision: str = "head") -> None:
    _outside_any_loop(lambda: command.upgrade(alembic_config(database_url), revision))


def downgrade(database_url: str, revision: str = "base") -> None:
    _outside_any_loop(lambda: command.downgrade(alembic_config(database_url), revision))
