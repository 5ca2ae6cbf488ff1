"""AUTH: every operation refuses callers without a valid bearer token, before it looks anything up."""

from __future__ import annotations

import pytest

from vpsconform.client import SNAPSHOTS
from vpsconform.contract import ABSENT_ID

BAD_HEADERS = {
    "no header": None,
    "empty bearer": 'Bearer ""',
    "bare scheme": "Bearer",
    "malformed": "Bearer two tokens",
    "unknown token": "Bearer vpsconform-not-a-real-token",
    "other scheme": "Basic dnBzY29uZm9ybTpub3Bl",
    "token scheme": "Token vpsconform-not-a-real-token",
}
REQUIREMENT_OF = {"no header": "AUTH-01", "unknown token": "AUTH-02"}


def operations(server_id: int, name: str) -> dict[str, tuple[str, str, dict | None]]:
    """Each documented operation as (method, path, json body), aimed at objects that do not exist."""
    return {
        "list": ("GET", SNAPSHOTS, None),
        "create": ("POST", SNAPSHOTS, {"server_id": server_id, "name": name}),
        "restore": ("POST", f"{SNAPSHOTS}{ABSENT_ID}/restore/", None),
        "delete": ("DELETE", f"{SNAPSHOTS}{ABSENT_ID}/", None),
    }


@pytest.mark.requirement("AUTH-01", "AUTH-02", "AUTH-03")
@pytest.mark.parametrize("operation", ["list", "create", "restore", "delete"])
def test_bad_credentials_get_401(anon_api, servers, names, check, operation):
    """Every operation x every way of sending no usable token -> 401."""
    method, path, body = operations(servers.ids[0], names("auth-probe"))[operation]
    for case, header in BAD_HEADERS.items():
        headers = {"Authorization": header} if header is not None else {}
        kwargs = {"json_body": body} if body is not None else {}
        response = anon_api.request(method, path, headers=headers, **kwargs)
        check.status(REQUIREMENT_OF.get(case, "AUTH-03"), response, f"{operation} with {case}")


@pytest.mark.requirement("AUTH-04")
def test_auth_is_checked_before_lookups(anon_api, names, check):
    """Anonymous requests about objects that do not exist get 401, not 404."""
    requests = {
        "create on an absent server": (
            "POST",
            SNAPSHOTS,
            {"server_id": ABSENT_ID, "name": names("auth-lookup")},
        ),
        "restore of an absent snapshot": ("POST", f"{SNAPSHOTS}{ABSENT_ID}/restore/", None),
        "delete of an absent snapshot": ("DELETE", f"{SNAPSHOTS}{ABSENT_ID}/", None),
    }
    for what, (method, path, body) in requests.items():
        kwargs = {"json_body": body} if body is not None else {}
        for header in (None, "Bearer vpsconform-not-a-real-token"):
            headers = {"Authorization": header} if header else {}
            check.status("AUTH-04", anon_api.request(method, path, headers=headers, **kwargs), what)


@pytest.mark.requirement("AUTH-05")
def test_auth_is_checked_before_validation(anon_api, names, check):
    """Anonymous creates with invalid bodies get 401, not 400."""
    invalid = {"server_id": ABSENT_ID, "name": names.prefix + "not valid!"}
    bodies = {"an invalid name": invalid, "an empty body": {}}
    for what, body in bodies.items():
        check.status(
            "AUTH-05", anon_api.request("POST", SNAPSHOTS, json_body=body), f"anonymous create with {what}"
        )
    response = anon_api.request("POST", SNAPSHOTS, content=b"{not json")
    check.status("AUTH-05", response, "anonymous create with malformed JSON")


@pytest.mark.requirement("AUTH-06", "AUTH-07", "AUTH-08")
def test_valid_token_is_accepted_and_challenges_name_bearer(api, anon_api, check, servers, names):
    """The token passes on every operation; 401s carry a Bearer challenge; the scheme is case-insensitive."""
    response = api.list_snapshots()
    check.that(
        "AUTH-06",
        response.status_code != 401,
        f"list with the valid token: got {response.status_code}",
        evidence=response,
    )
    for header in (None, "Bearer vpsconform-not-a-real-token"):
        refused = anon_api.list_snapshots(headers={"Authorization": header} if header else {})
        challenge = refused.headers.get("WWW-Authenticate", "")
        check.that(
            "AUTH-07",
            refused.status_code != 401 or challenge.lower().startswith("bearer"),
            f"401 challenge is {challenge!r}",
            evidence=refused,
        )
    token = api.auth_headers()["Authorization"].split(" ", 1)[1]
    lower = api.list_snapshots(headers={"Authorization": f"bearer {token}"})
    check.that(
        "AUTH-08", lower.status_code == 200, f"lower-case scheme: got {lower.status_code}", evidence=lower
    )
    attempts = {
        "create with an invalid name": api.request(
            "POST", SNAPSHOTS, json_body={"server_id": servers.ids[0], "name": names.prefix + "not valid!"}
        ),
        "restore of an absent snapshot": api.restore_snapshot(ABSENT_ID),
        "delete of an absent snapshot": api.delete_snapshot(ABSENT_ID),
    }
    for what, attempt in attempts.items():  # none of these can succeed, but none may refuse the token
        check.that(
            "AUTH-06",
            attempt.status_code != 401,
            f"{what}, valid token: got {attempt.status_code}",
            evidence=attempt,
        )
