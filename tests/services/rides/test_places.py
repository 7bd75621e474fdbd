"""Places: searchable by name, a page at a time; a home is seen only by its owner."""

from __future__ import annotations

import pytest

from tests.services.rides.conftest import Places, Rider


async def _names(rider: Rider, **params: object) -> list[str]:
    response = await rider.get("/places", params=params)
    assert response.status_code == 200, response.text
    return [p["name"] for p in response.json()["items"]]


async def test_search_finds_places_by_part_of_their_name(alice: Rider, places: Places) -> None:
    assert await _names(alice, q="gare") == ["Café de la Gare", "Gare du Nord"]


async def test_search_treats_wildcards_as_plain_characters(alice: Rider,
                                                           places: Places) -> None:
    assert await _names(alice, q="%") == []


async def test_places_come_a_page_at_a_time(alice: Rider, places: Places) -> None:
    first = (await alice.get("/places", params={"limit": 3})).json()
    rest = (await alice.get("/places", params={"cursor": first["next_cursor"]})).json()

    names = [p["name"] for p in first["items"] + rest["items"]]
    assert names == sorted(names)
    assert len(names) == len(set(names)) == 5
    assert rest["next_cursor"] is None


async def test_a_home_is_visible_only_to_its_owner(alice: Rider, bob: Rider,
                                                   places: Places) -> None:
    assert "Home" in await _names(alice)
    assert "Home" not in await _names(bob)
    assert (await bob.get(f"/places/{places.alice_home.id}")).status_code == 404


async def test_a_place_is_shown_with_its_coordinates(alice: Rider, places: Places) -> None:
    response = await alice.get(f"/places/{places.cdg.id}")

    assert response.status_code == 200
    assert response.json() | {"id": None} == {
        "id": None, "name": "CDG Airport", "kind": "airport", "address": "CDG Airport, Paris",
        "latitude": 49.0097, "longitude": 2.5479,
    }


@pytest.mark.parametrize("cursor", ["garbage!", "eyJub3QiOiAiYSBjdXJzb3IifQ"])
async def test_a_forged_cursor_is_a_bad_request(alice: Rider, places: Places,
                                                cursor: str) -> None:
    response = await alice.get("/places", params={"cursor": cursor})

    assert response.status_code == 400
    assert response.json()["type"] == "/problems/bad-request"


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"q": "x" * 101}])
async def test_out_of_range_parameters_are_refused(alice: Rider, params: dict[str, object]) -> None:
    response = await alice.get("/places", params=params)

    assert response.status_code == 422


async def test_an_unknown_or_malformed_place_id_is_a_problem(alice: Rider) -> None:
    assert (await alice.get("/places/00000000-0000-4000-8000-000000000000")).status_code == 404
    assert (await alice.get("/places/cdg")).status_code == 422
