"""How much a ride costs: distance and time estimates and the tariff of each product.

Pure functions over integers (minor units, metres, minutes): no float ever becomes
money, so the same ride always costs the same cent on every machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

CURRENCY = "EUR"
EARTH_RADIUS_KM = 6371.0088  # the IUGG mean radius
# Roads are not great circles: a typical city detour over the straight line.
ROAD_FACTOR = 1.3
AVERAGE_SPEED_KMH = 30.0


class Product(StrEnum):
    STANDARD = "standard"
    COMFORT = "comfort"
    XL = "xl"


@dataclass(frozen=True)
class Tariff:
    """One product's prices, in minor units."""

    base_fare: int
    per_km: int
    per_minute: int
    minimum_fare: int


TARIFFS: dict[Product, Tariff] = {
    Product.STANDARD: Tariff(base_fare=250, per_km=110, per_minute=30, minimum_fare=700),
    Product.COMFORT: Tariff(base_fare=350, per_km=150, per_minute=40, minimum_fare=1000),
    Product.XL: Tariff(base_fare=450, per_km=190, per_minute=50, minimum_fare=1300),
}

PRODUCT_LABELS: dict[Product, str] = {
    Product.STANDARD: "Standard",
    Product.COMFORT: "Comfort",
    Product.XL: "XL",
}


@dataclass(frozen=True)
class Estimate:
    """A ride's expected road distance and duration."""

    distance_m: int
    duration_min: int


@dataclass(frozen=True)
class Price:
    """A priced ride. ``amount`` is never below the product's minimum fare."""

    base_fare: int
    distance_fare: int
    time_fare: int
    amount: int
    currency: str = CURRENCY

    @property
    def minimum_fare_supplement(self) -> int:
        """What the minimum fare added on top of the metered price."""
        return self.amount - (self.base_fare + self.distance_fare + self.time_fare)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the great-circle distance between two points, in kilometres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def estimate(distance_km: float) -> Estimate:
    """Estimate a road trip from the straight-line distance between its ends."""
    road_m = round(distance_km * ROAD_FACTOR * 1000)
    return Estimate(distance_m=road_m, duration_min=duration_for(road_m))


def duration_for(distance_m: int) -> int:
    """Return whole minutes at the average speed, rounded up; a ride takes at least one."""
    metres_per_minute = AVERAGE_SPEED_KMH * 1000 / 60
    return max(1, math.ceil(distance_m / metres_per_minute))


def price(product: Product, trip: Estimate) -> Price:
    """Price a ride: base fare + per kilometre + per minute, at least the minimum fare."""
    tariff = TARIFFS[product]
    # Round half up to the cent, in integers.
    distance_fare = (tariff.per_km * trip.distance_m + 500) // 1000
    time_fare = tariff.per_minute * trip.duration_min
    metered = tariff.base_fare + distance_fare + time_fare
    return Price(
        base_fare=tariff.base_fare,
        distance_fare=distance_fare,
        time_fare=time_fare,
        amount=max(metered, tariff.minimum_fare),
    )
