"""cards.check_card(sides=...): the back alone can be checked, with the same rule as the card."""

from __future__ import annotations

import pytest

import cards

LONG = "; ".join(["ANAPHYLAXIS: Penicillin", "ANTICOAGULANT: Apixaban",
                  "DNACPR: Signed form in kitchen drawer", "PACEMAKER: Medtronic, fitted 2021",
                  "INSULIN-TREATED DIABETES", "OXYGEN TARGET: 88-92%"] * 2)  # fmt: skip


def test_the_back_alone_refuses_a_critical_line_the_whole_card_refuses():
    for sides in (("front", "back"), ("back",)):
        with pytest.raises(cards.CardError, match="never cut short"):
            cards.check_card(first_name="Jane", issuer="x", critical_line=LONG, sides=sides)


def test_checking_the_back_alone_does_not_draw_the_front():
    name = "W" * 300  # too long for the front in any size
    with pytest.raises(cards.CardError, match="first name is too long"):
        cards.check_card(first_name=name, issuer="x")
    cards.check_card(first_name=name, issuer="x", sides=("back",))


def test_an_unknown_side_is_refused():
    with pytest.raises(cards.CardError, match="side must be one of"):
        cards.check_card(first_name="Jane", issuer="x", sides=("inside",))
