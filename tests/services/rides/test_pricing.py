"""A ride's price: base fare + distance + time, per product, never below the minimum."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.rides.pricing import (
    TARIFFS,
    Estimate,
    Product,
    duration_for,
    estimate,
    haversine_km,
    price,
)


def test_haversine_matches_a_known_distance() -> None:
    # Gare du Nord to CDG Airport: about 20 km as the crow flies.
    assert haversine_km(48.8809, 2.3553, 49.0097, 2.5479) == pytest.approx(20.0, abs=0.5)


def test_estimate_applies_the_road_factor_and_average_speed() -> None:
    trip = estimate(10.0)

    assert trip.distance_m == 13_000  # 1.3 x the straight line
    assert trip.duration_min == 26  # 13 km at 30 km/h


def test_a_ride_takes_at_least_a_minute() -> None:
    assert duration_for(0) == 1


def test_price_is_base_plus_distance_plus_time() -> None:
    fare = price(Product.STANDARD, Estimate(distance_m=10_000, duration_min=20))

    assert (fare.base_fare, fare.distance_fare, fare.time_fare) == (250, 1100, 600)
    assert fare.amount == 1950
    assert fare.minimum_fare_supplement == 0
    assert fare.currency == "EUR"


def test_short_ride_costs_the_minimum_fare() -> None:
    fare = price(Product.STANDARD, Estimate(distance_m=500, duration_min=1))

    assert fare.amount == TARIFFS[Product.STANDARD].minimum_fare
    assert fare.base_fare + fare.distance_fare + fare.time_fare + fare.minimum_fare_supplement \
        == fare.amount


def test_bigger_products_cost_more_for_the_same_ride() -> None:
    trip = Estimate(distance_m=8_000, duration_min=16)

    standard, comfort, xl = (price(p, trip).amount
                             for p in (Product.STANDARD, Product.COMFORT, Product.XL))

    assert standard < comfort < xl


@given(product=st.sampled_from(Product),
       shorter=st.floats(min_value=0, max_value=200),
       extra=st.floats(min_value=0, max_value=200))
def test_price_never_falls_with_distance_nor_below_the_minimum(product: Product, shorter: float,
                                                               extra: float) -> None:
    near = price(product, estimate(shorter))
    far = price(product, estimate(shorter + extra))

    assert near.amount <= far.amount
    assert near.amount >= TARIFFS[product].minimum_fare

