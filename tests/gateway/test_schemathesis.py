"""Property-based API testing: schemathesis drives every operation in /openapi.json.

The gateway runs as a real process (with the services in-process) on a seeded
database, and every generated call is made as a signed-in person. Whatever it
sends, the answer is never a 5xx, always of a documented status with the declared
content type, and its body matches the published schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from seeds.people import PEOPLE
from tests.support.databases import migrated_postgres
from tests.support.processes import ServerProcess, agentgate_command, free_port, login_cookie

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[str, dict[str, str]]]:
    """A served gateway on a seeded database, and the headers of a signed-in person."""
    workdir: Path = tmp_path_factory.mktemp("schemathesis")
    if request.param == "sqlite":
        database_url = f"sqlite+aiosqlite:///{workdir / 'agentgate.db'}"
        pg = None
    else:
        pg = migrated_postgres()
        database_url = next(pg).url
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = ServerProcess(
        "agentgate", agentgate_command("serve", "--port", str(port)), port=port,
        log_path=workdir / "agentgate.log",
        env={"AGENTGATE_DATABASE_URL": database_url, "AGENTGATE_PUBLIC_URL": url},
    )
    try:
        with process:
            process.wait_ready("/login", timeout=90)
            cookie, csrf = login_cookie(url, "alice", PEOPLE["alice"].password)
            yield url, {"Cookie": f"agentgate_session={cookie}", "X-CSRF-Token": csrf}
    finally:
        if pg is not None:
            pg.close()


CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_schema_conformance]


def test_no_operation_fails_or_breaks_its_schema(
        served: tuple[str, dict[str, str]], subtests: pytest.Subtests) -> None:
    """Each operation is its own subtest, so one failure names its operation and the
    others still run. (schemathesis' from_fixture loader does not work on pytest 9.)"""
    url, headers = served
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20, "the aggregated schema lost operations"
    for operation in operations:
        with subtests.test(operation=operation.label):
            @given(case=operation.as_strategy())
            @settings(max_examples=15, deadline=None, database=None,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
            def check(case: schemathesis.Case) -> None:
                case.call_and_validate(base_url=url, headers=headers, checks=CHECKS)

            check()
