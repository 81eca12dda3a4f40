"""The API-token page: a signed-in user creates, regenerates and revokes their own token."""

import pytest
from django.test import Client as DjangoClient
from django.urls import reverse
from rest_framework.authtoken.models import Token

from realtime.tests.conftest import db
from realtime.tests.test_revocation import close_code

PAGE = "/account/token/"


def test_anonymous_is_sent_to_the_sign_in_page(client, db):
    response = client.get(PAGE)
    assert response.status_code == 302 and response.url == f"{reverse('login')}?next={PAGE}"
    assert client.post(reverse("api-token-revoke")).status_code == 302


def test_viewer_creates_a_token_and_sees_the_key_once(client, viewer):
    client.force_login(viewer)
    assert "You have no token." in client.get(PAGE).content.decode()
    response = client.post(PAGE)
    token = Token.objects.get(user=viewer)
    assert f'value="{token.key}"' in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    body = client.get(PAGE).content.decode()
    assert token.key not in body and "You have a token, created" in body


def test_regenerating_replaces_the_key(client, viewer, token_for):
    old = token_for(viewer)
    client.force_login(viewer)
    client.post(PAGE)
    assert Token.objects.filter(user=viewer).exclude(key=old).count() == 1
    assert not Token.objects.filter(key=old).exists()


def test_revoking_deletes_only_that_users_token(client, viewer, owner, token_for):
    token_for(viewer)
    owners = token_for(owner)
    client.force_login(viewer)
    response = client.post(reverse("api-token-revoke"), follow=True)
    assert not Token.objects.filter(user=viewer).exists()
    assert Token.objects.filter(key=owners).exists()
    assert "Your API token is revoked." in response.content.decode()


def test_revoke_needs_post(client, viewer, token_for):
    token_for(viewer)
    client.force_login(viewer)
    assert client.get(reverse("api-token-revoke")).status_code == 405
    assert Token.objects.filter(user=viewer).exists()


def post_as(user, path: str) -> None:
    client = DjangoClient()
    client.force_login(user)
    client.post(path)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/account/token/revoke/", "/account/token/"])
async def test_revoking_or_regenerating_closes_the_sockets_of_the_old_token(ws_connect, viewer, path):
    client = await ws_connect("/ws/", user=viewer)
    await db(post_as, viewer, path)
    assert await close_code(client) == 4403
