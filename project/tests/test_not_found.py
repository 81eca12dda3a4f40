"""The site's 404 answer: JSON under /api/, Django's page elsewhere."""

import pytest


@pytest.mark.django_db
def test_an_api_url_that_no_route_matches_answers_a_json_404(client_for, owner, cameras):
    response = client_for(owner).get("/api/events/0.5/")
    assert (response.status_code, response["Content-Type"], response.json()) == (
        404,
        "application/json",
        {"detail": "Not found."},
    )
    assert client_for(owner).get("/no-such-page/")["Content-Type"].startswith("text/html")
