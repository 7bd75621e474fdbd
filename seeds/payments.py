"""Demo cards: alice, bob and carol pay with a simulated Visa, dave has no card yet.

So ``make run`` can book a ride at once as alice, and signing in as dave shows the
other path: booking asks for a card, and the Payments page adds one. The cards are
saved the way the Payments page saves them (:func:`gateway.payments.methods.finish_setup`)
through the simulated processor, which takes only Stripe's test cards.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.payments import methods
from gateway.payments.processors.simulated import SimulatedProcessor
from seeds.people import PEOPLE

VISA = "4242424242424242"
WITH_A_CARD = ("alice", "bob", "carol")
WITHOUT_A_CARD = ("dave",)
# Far enough ahead that the demo card never expires under anyone's feet.
EXPIRY = (12, 2035)


async def load_cards(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Save a Visa for each of WITH_A_CARD (each in its own transaction, as the page does)."""
    processor = SimulatedProcessor(sessionmaker)
    month, year = EXPIRY
    for username in WITH_A_CARD:
        await methods.finish_setup(
            sessionmaker,
            processor,
            PEOPLE[username].id,
            card_number=VISA,
            exp_month=month,
            exp_year=year,
        )
