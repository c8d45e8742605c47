"""A card printed with the numeric spelling scans and unlocks like any other, end to end."""

from __future__ import annotations

from tagservice import crypto, tag_digits
from tests.helpers import events, path_of, sign_in, tag_id_of, unlock_form


def numeric(url: str) -> str:
    """The same tag as it is now printed: the payload as fixed-width digits."""
    base = url[: url.index("/T/")]
    return tag_digits.tag_url(base, crypto.decode_payload(url))


def test_a_numeric_tag_unlocks_for_a_signed_in_clinician_and_is_audited(client, app, tag_url,
                                                                         settings):
    url = numeric(tag_url)
    assert path_of(url)[3:].isdigit()
    sign_in(client, app)
    response = unlock_form(client, url, reason="999")
    assert response.status_code == 200 and "Jane Smith" in response.text
    [event] = events(app, "tag.unlocked")
    assert event.tag_id == tag_id_of(tag_url, settings) == tag_id_of(url, settings)


def test_a_numeric_tag_scanned_signed_out_shows_sign_in_posting_back_to_the_same_path(client,
                                                                                      tag_url):
    url = numeric(tag_url)
    response = client.get(path_of(url))
    assert response.status_code == 200
    assert f'action="{path_of(url)}"' in response.text


def test_a_numeric_tag_with_one_digit_too_many_is_refused_with_the_friendly_page(client, tag_url):
    response = client.get(path_of(numeric(tag_url)) + "0")
    assert response.status_code == 400 and "Traceback" not in response.text
    [event] = events(client.application, "tag.rejected")
    assert "MalformedTag" in str(event.details)


def test_the_retry_link_after_a_failed_unlock_returns_to_the_numeric_tag(app, tag_url):
    from tagservice.web.errors import retry_url

    digits = path_of(numeric(tag_url))[3:]
    with app.test_request_context("/unlock", method="POST", data={"tag": digits}):
        assert retry_url() == f"/T/{digits}"
