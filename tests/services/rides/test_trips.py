"""Trips move through their life as the clock moves; cancelling follows the fee rules."""

from __future__ import annotations

from typing import Any

import pytest

from services.rides.lifecycle import CANCELLATION_FEE
from tests.services.rides.conftest import Clock, Places, Rider


@pytest.fixture
async def trip(alice: Rider, places: Places) -> Any:
    return await alice.ride(places.gare_du_nord, places.cdg)


async def _status(rider: Rider, trip: Any) -> str:
    response = await rider.get(f"/trips/{trip['id']}")
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


async def test_trip_moves_through_its_life_as_time_passes(alice: Rider, trip: Any,
                                                          clock: Clock) -> None:
    assert trip["driver"] is None
    assert await _status(alice, trip) == "requested"

    clock.advance(seconds=30)
    assigned = (await alice.get(f"/trips/{trip['id']}")).json()
    assert assigned["status"] == "driver_assigned"
    assert set(assigned["driver"]) == {"name", "car", "plate", "rating"}

    clock.advance(minutes=2, seconds=30)
    assert await _status(alice, trip) == "picked_up"

    clock.advance(minutes=trip["duration_min"])
    done = (await alice.get(f"/trips/{trip['id']}")).json()
    assert done["status"] == "completed"
    assert done["completed_at"] is not None


async def test_reading_a_trip_changes_nothing(alice: Rider, trip: Any, clock: Clock) -> None:
    clock.advance(seconds=45)

    first = (await alice.get(f"/trips/{trip['id']}")).json()
    second = (await alice.get(f"/trips/{trip['id']}")).json()

    assert first == second


async def test_someone_elses_trip_is_not_found(bob: Rider, trip: Any) -> None:
    assert (await bob.get(f"/trips/{trip['id']}")).status_code == 404
    assert (await bob.post(f"/trips/{trip['id']}/cancel")).status_code == 404
    assert (await bob.get("/trips")).json()["items"] == []


async def test_history_lists_newest_first_one_page_at_a_time(alice: Rider, places: Places,
                                                             clock: Clock) -> None:
    booked = []
    for _ in range(3):
        booked.append((await alice.ride(places.louvre, places.cdg))["id"])
        clock.advance(hours=1)

    first = (await alice.get("/trips", params={"limit": 2})).json()
    second = (await alice.get("/trips", params={"limit": 2,
                                                "cursor": first["next_cursor"]})).json()

    assert [t["id"] for t in first["items"] + second["items"]] == booked[::-1]
    assert second["next_cursor"] is None


async def test_history_filters_by_the_status_at_the_time_of_asking(
        alice: Rider, places: Places, clock: Clock) -> None:
    old = await alice.ride(places.louvre, places.cdg)
    clock.advance(hours=2)
    cancelled = await alice.ride(places.louvre, places.gare_du_nord)
    assert (await alice.post(f"/trips/{cancelled['id']}/cancel")).status_code == 200
    on_the_way = await alice.ride(places.gare_du_nord, places.cdg)
    clock.advance(seconds=40)
    fresh = await alice.ride(places.cdg, places.louvre)

    async def ids(status: str) -> list[str]:
        response = await alice.get("/trips", params={"status": status})
        assert all(t["status"] == status for t in response.json()["items"])
        return [t["id"] for t in response.json()["items"]]

    assert await ids("completed") == [old["id"]]
    assert await ids("cancelled") == [cancelled["id"]]
    assert await ids("driver_assigned") == [on_the_way["id"]]
    assert await ids("requested") == [fresh["id"]]
    assert await ids("picked_up") == []


async def test_cancelling_within_two_minutes_is_free(alice: Rider, trip: Any,
                                                     clock: Clock) -> None:
    clock.advance(minutes=1, seconds=50)  # a driver is assigned, but we are in the window

    response = await alice.post(f"/trips/{trip['id']}/cancel")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["cancellation_fee"] == {"amount": 0, "currency": "EUR"}
    # All of it goes back to the payment the gateway made; its refund hook pays it back.
    assert body["refund"] == {**trip["fare"], "payment_id": trip["payment_id"]}
    assert body["trip"]["status"] == "cancelled"


async def test_cancelling_once_the_driver_is_on_the_way_costs_a_fee(alice: Rider, trip: Any,
                                                                    clock: Clock) -> None:
    clock.advance(minutes=2, seconds=30)

    body = (await alice.post(f"/trips/{trip['id']}/cancel")).json()

    paid = trip["fare"]["amount"]
    assert body["cancellation_fee"]["amount"] == CANCELLATION_FEE
    assert body["refund"]["amount"] == paid - CANCELLATION_FEE
    assert body["refund"]["payment_id"] == trip["payment_id"]
    kept = (await alice.get(f"/trips/{trip['id']}")).json()["cancellation"]
    assert kept["fee"] == body["cancellation_fee"]
    # The trip keeps what was given back; the cancel answer also names the payment.
    assert kept["refund"] == {k: body["refund"][k] for k in ("amount", "currency")}


@pytest.mark.parametrize(("minutes", "status"), [(3, "picked_up"), (120, "completed")])
async def test_a_trip_under_way_or_done_cannot_be_cancelled(alice: Rider, trip: Any,
                                                            clock: Clock, minutes: int,
                                                            status: str) -> None:
    clock.advance(minutes=minutes)

    response = await alice.post(f"/trips/{trip['id']}/cancel")

    assert response.status_code == 409
    assert response.json()["trip_status"] == status
    assert await _status(alice, trip) == status


async def test_a_trip_cannot_be_cancelled_twice(alice: Rider, trip: Any) -> None:
    assert (await alice.post(f"/trips/{trip['id']}/cancel")).status_code == 200

    again = await alice.post(f"/trips/{trip['id']}/cancel")

    assert again.status_code == 409
    assert again.json()["trip_status"] == "cancelled"


async def test_a_cancelled_trip_shows_only_the_steps_it_reached(alice: Rider, trip: Any,
                                                                clock: Clock) -> None:
    clock.advance(minutes=1)
    await alice.post(f"/trips/{trip['id']}/cancel")
    clock.advance(hours=1)

    shown = (await alice.get(f"/trips/{trip['id']}")).json()

    assert shown["status"] == "cancelled"
    assert shown["driver_assigned_at"] is not None
    assert shown["picked_up_at"] is None
    assert shown["completed_at"] is None
