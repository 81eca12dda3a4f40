"""API test helpers: every standing user at once (also imported by events/tests)."""

import pytest


@pytest.fixture
def users(owner, viewer, stranger, pipeline) -> dict:
    """The standing users by name, anonymous included."""
    return {"anonymous": None, "viewer": viewer, "stranger": stranger, "owner": owner, "pipeline": pipeline}


@pytest.fixture
def statuses(users, client_for):
    """Call one endpoint as every standing user and answer {user name: status code}.

    `url` may be a callable taking the user name, for calls that consume their object (DELETE).
    """

    def call(method: str, url, data=None, *, format: str = "json") -> dict[str, int]:
        answers = {}
        for name, user in users.items():
            target = url(name) if callable(url) else url
            answers[name] = getattr(client_for(user), method)(target, data, format=format).status_code
        return answers

    return call


def answers(default: int, **overrides: int) -> dict[str, int]:
    """The status codes `statuses` should answer: anonymous gets 401, the others `default`."""
    return {
        "anonymous": 401,
        **dict.fromkeys(["viewer", "stranger", "owner", "pipeline"], default),
        **overrides,
    }
