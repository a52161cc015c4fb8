"""Parsing MongoDB connection URIs into targets, and keeping passwords out of sight."""

from pathlib import Path

import pytest
from pymongo.uri_parser import parse_uri

from shared.errors import ConfigError
from shared.store.uri import DEFAULT_DATABASE, parse_mongo_uri, redact_uri

PASSWORD = "s3cr3t-Pa55"


def test_a_plain_uri_gives_its_database_and_keeps_the_uri_for_the_client() -> None:
    target = parse_mongo_uri("mongodb://db1.example.org:27017/trials")

    assert target.database == "trials"
    assert target.uri == "mongodb://db1.example.org:27017/trials"
    assert not target.tls


def test_a_uri_without_a_database_uses_the_default_database() -> None:
    target = parse_mongo_uri("mongodb://localhost")

    assert target.database == DEFAULT_DATABASE == "ocrtune"


def test_credentials_and_auth_source_are_understood_and_the_password_is_masked() -> None:
    target = parse_mongo_uri(f"mongodb://alice:{PASSWORD}@db1:27017/trials?authSource=admin")

    assert target.username == "alice"
    assert target.auth_source == "admin"
    assert target.redacted == "mongodb://alice:***@db1:27017/trials?authSource=admin"
    assert PASSWORD in target.uri


def test_a_replica_set_with_several_hosts_is_understood() -> None:
    target = parse_mongo_uri("mongodb://db1:27017,db2:27018,db3/trials?replicaSet=rs0")

    assert target.replica_set == "rs0"
    assert parse_uri(target.uri)["nodelist"] == [("db1", 27017), ("db2", 27018),
                                                 ("db3", 27017)]


def test_tls_options_are_kept_for_the_client(tmp_path: Path) -> None:
    ca_file, key_file = tmp_path / "ca.pem", tmp_path / "client.pem"
    ca_file.write_text("ca")
    key_file.write_text("key")
    text = (f"mongodb://db1/trials?tls=true&tlsCAFile={ca_file}"
            f"&tlsCertificateKeyFile={key_file}&tlsAllowInvalidHostnames=true")

    target = parse_mongo_uri(text)

    options = parse_uri(target.uri)["options"]
    assert target.tls
    assert options["tlsCAFile"] == str(ca_file)
    assert options["tlsCertificateKeyFile"] == str(key_file)
    assert options["tlsAllowInvalidHostnames"] is True


def test_an_unreadable_tls_file_is_a_config_error_naming_the_option() -> None:
    with pytest.raises(ConfigError, match=r"(?i)tlsCAFile.*not readable"):
        parse_mongo_uri("mongodb://db1/?tls=true&tlsCAFile=/no/such/ca.pem")


def test_an_srv_uri_is_checked_without_a_dns_lookup_and_uses_tls_by_default() -> None:
    target = parse_mongo_uri(
        f"mongodb+srv://alice:{PASSWORD}@cluster0.example.invalid/trials?authSource=admin")

    assert target.database == "trials"
    assert target.tls
    assert target.auth_source == "admin"
    assert target.uri.startswith("mongodb+srv://")
    assert target.redacted == ("mongodb+srv://alice:***@cluster0.example.invalid/trials"
                               "?authSource=admin")


def test_an_srv_uri_may_turn_tls_off_and_set_its_service_name() -> None:
    target = parse_mongo_uri("mongodb+srv://cluster0.example.invalid/?tls=false"
                             "&srvServiceName=custom")

    assert not target.tls
    assert target.database == DEFAULT_DATABASE


@pytest.mark.parametrize("text", [
    "mongodb+srv://cluster0.example.invalid:27017/trials",
    "mongodb+srv://a.example.invalid,b.example.invalid/trials",
])
def test_an_srv_uri_with_a_port_or_several_hosts_is_rejected(text: str) -> None:
    with pytest.raises(ConfigError, match="exactly one host"):
        parse_mongo_uri(text)


def test_hyperopts_mongo_form_becomes_a_standard_uri_with_its_database() -> None:
    target = parse_mongo_uri("mongo://localhost:1234/foo_db/jobs")

    assert target.database == "foo_db"
    assert target.uri == "mongodb://localhost:1234/foo_db"
    assert target.redacted == "mongo://localhost:1234/foo_db/jobs"


def test_hyperopts_mongo_form_keeps_credentials_and_options() -> None:
    target = parse_mongo_uri(f"mongo://alice:{PASSWORD}@db1:27017/foo_db/jobs?authSource=admin")

    assert target.username == "alice"
    assert target.auth_source == "admin"
    assert target.uri == f"mongodb://alice:{PASSWORD}@db1:27017/foo_db?authSource=admin"
    assert target.redacted == "mongo://alice:***@db1:27017/foo_db/jobs?authSource=admin"


def test_hyperopts_mongo_form_must_name_the_jobs_collection() -> None:
    with pytest.raises(ConfigError, match="must be 'jobs', not 'trials'") as caught:
        parse_mongo_uri("mongo://localhost:1234/foo_db/trials")

    assert "mongo://localhost:27017/foo_db/jobs" in str(caught.value)


def test_hyperopts_mongo_form_without_a_collection_is_rejected() -> None:
    with pytest.raises(ConfigError, match="mongo://host:port/database/jobs"):
        parse_mongo_uri("mongo://localhost:1234/foo_db")


def test_a_standard_uri_naming_a_collection_is_rejected() -> None:
    with pytest.raises(ConfigError, match="names a collection"):
        parse_mongo_uri("mongodb://localhost/trials.jobs")


@pytest.mark.parametrize(("text", "problem"), [
    ("", "must start with mongodb://"),
    ("localhost:27017", "must start with mongodb://"),
    ("http://localhost", "must start with mongodb://"),
    ("mongodb://", "at least one host"),
    ("mongodb://localhost:99999", "Port must be an integer"),
    ("mongodb://localhost/?notAnOption=1", "Unknown option"),
    ("mongodb://localhost/?tls=maybe", "tls must be 'true' or 'false'"),
    ("mongodb://localhost/?serverSelectionTimeoutMS=soon", "must be an integer"),
])
def test_a_malformed_uri_names_the_problem_and_shows_a_valid_example(
        text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_mongo_uri(text)

    message = str(caught.value)
    assert problem in message
    assert "A valid URI looks like mongodb://" in message


@pytest.mark.parametrize("text", [
    f"mongodb://alice:{PASSWORD}@localhost:99999/trials",
    f"mongodb://alice:{PASSWORD}@localhost/trials?tls=maybe",
    f"mongodb://alice:{PASSWORD}@localhost/trials.jobs",
    f"mongodb://alice:{PASSWORD}@localhost/?tlsCAFile=/no/such/ca.pem",
    f"mongodb+srv://alice:{PASSWORD}@cluster0.example.invalid:1/trials",
    f"mongo://alice:{PASSWORD}@localhost:1234/foo_db/trials",
    f"http://alice:{PASSWORD}@localhost",
    # Unescaped characters in the password: the parser cannot even find where it ends.
    f"mongodb://alice:{PASSWORD}@x@localhost",
    f"mongodb://alice:{PASSWORD}/x@localhost",
    f"mongodb://alice:{PASSWORD}?x@localhost",
])
def test_no_error_message_shows_the_password(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_mongo_uri(text)

    assert PASSWORD not in str(caught.value)
    assert "alice:***@" in str(caught.value)
    assert caught.value.__cause__ is None


def test_neither_str_nor_repr_of_a_target_shows_the_password() -> None:
    target = parse_mongo_uri(f"mongodb://alice:{PASSWORD}@localhost/trials")

    for shown in (str(target), repr(target), target.redacted, f"{target}", f"{[target]}"):
        assert PASSWORD not in shown
        assert "alice:***@localhost" in shown


def test_secret_option_values_are_masked_too() -> None:
    redacted = redact_uri("mongodb://localhost/?tls=true&tlsCertificateKeyFilePassword=hush"
                          "&authMechanismProperties=AWS_SESSION_TOKEN:hush")

    assert "hush" not in redacted
    assert "tls=true" in redacted
    assert "tlsCertificateKeyFilePassword=***" in redacted


def test_a_uri_without_a_password_is_shown_unchanged() -> None:
    text = "mongodb://alice@localhost:27017/trials?authSource=admin"

    assert redact_uri(text) == text


@pytest.mark.parametrize(("password", "message", "scrubbed"), [
    # A short password is masked where it stands alone, not inside every word.
    ("a", "bad auth for alice:a@db.example.org: a", "bad auth for alice:***@db.example.org: ***"),
    ("pw42", "password 'pw42' refused; pw42x is not it",
     "password '***' refused; pw42x is not it"),
    # Ends that are not letters or digits are boundaries of their own.
    ("!x!", "quoted as a!x!b", "quoted as a***b"),
    # A longer one is masked wherever it is, even run into other text by an escape.
    ("hunter2", "alice%3Ahunter2, 'a\\nhunter2', hunter2x", "alice%3A***, 'a\\n***', ***x"),
    # The escaped and the unescaped spelling alike.
    ("p%40ss!", "tried p@ss! and p%40ss!", "tried *** and ***"),
])
def test_a_quoted_password_is_masked_where_it_stands_alone_if_short_else_everywhere(
        password: str, message: str, scrubbed: str) -> None:
    target = parse_mongo_uri(f"mongodb://alice:{password}@db.example.org/trials")

    assert target.scrub(message) == scrubbed
