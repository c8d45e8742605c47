"""The portal's lock-screen downloads: both phone sizes, PNG only, decoding to the card's URL."""

from __future__ import annotations

import io

import zxingcpp
from PIL import Image

from tests.portal_helpers import issued_card, patient_fixture, portal_fixture  # noqa: F401


def test_a_patient_downloads_lock_screens_for_both_phone_sizes_holding_their_card(patient,
                                                                                 portal):
    url = issued_card(patient, portal)
    assert url.split("/T/")[1].isdigit()  # the portal prints the numeric spelling
    page = patient.get("/my/card").text
    assert "layout=lockscreen" in page
    for query, size in (("", (1170, 2532)), ("&screen=1080x2400", (1080, 2400))):
        response = patient.get(f"/my/card/card.png?layout=lockscreen{query}")
        assert response.status_code == 200 and response.mimetype == "image/png"
        assert "lockscreen" in response.headers["Content-Disposition"]
        image = Image.open(io.BytesIO(response.data))
        assert image.size == size
        assert [b.text for b in zxingcpp.read_barcodes(image)] == [url]


def test_odd_lock_screen_requests_are_not_found(patient, portal):
    issued_card(patient, portal)
    for bad in ("card.pdf?layout=lockscreen", "card.png?layout=lockscreen&screen=640x480",
                "card.png?layout=lockscreen&side=back", "card.png?layout=keyring&side=back"):
        assert patient.get(f"/my/card/{bad}").status_code == 404, bad
