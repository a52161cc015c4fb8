"""pymongo's errors as the store's: what a user reads when MongoDB fails or cannot be reached."""

from __future__ import annotations

import pytest
from pymongo.errors import OperationFailure, ServerSelectionTimeoutError

from shared.errors import StoreError, StoreUnavailableError
from shared.store.mongo_errors import store_errors
from shared.store.uri import parse_mongo_uri

TARGET = parse_mongo_uri("mongodb://ocrtune:s3cret@db.example:27017/ocrtune?authSource=admin")


def test_an_unreachable_server_is_named_without_pymongos_view_of_the_cluster() -> None:
    # Given pymongo's message for a server that refuses connections
    err = ServerSelectionTimeoutError(
        "db.example:27017: [Errno 111] Connection refused (configured timeouts: "
        "socketTimeoutMS: 20000.0ms, connectTimeoutMS: 5000.0ms), Timeout: 5.0s, "
        "Topology Description: <TopologyDescription id: 65f0, topology_type: Unknown, "
        "servers: [<ServerDescription ('db.example', 27017) server_type: Unknown>]>")

    # When it is raised inside the store
    with pytest.raises(StoreUnavailableError) as raised, \
            store_errors(TARGET, "reserving a trial"):
        raise err

    # Then the message says what failed and where, and not pymongo's topology dump
    message = str(raised.value)
    assert "Connection refused" in message and "reserving a trial" in message
    assert "Topology Description" not in message and "ServerDescription" not in message
    assert "s3cret" not in message


def test_a_refused_login_says_to_check_the_credentials_and_hides_the_password() -> None:
    # Given the server's refusal of the URI's credentials, echoing them
    err = OperationFailure("Authentication failed for ocrtune:s3cret.", code=18,
                           details={"errmsg": "Authentication failed.", "code": 18})

    # When it is raised inside the store
    with pytest.raises(StoreError) as raised, store_errors(TARGET, "opening the store"):
        raise err

    # Then the message names the fix, and the password is masked
    message = str(raised.value)
    assert "check the user, password and authSource" in message
    assert "s3cret" not in message
