"""Databases, collections and indexes: create, list and drop them."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, cast

from mongomock import filtering
from pymongo.errors import CollectionInvalid

from tests.standin.context import Command, Context, Reply, check_fields
from tests.standin.errors import CommandError

_INDEX_OPTIONS = frozenset({"key", "name", "unique", "sparse", "background", "v"})

# mongomock's query matcher: does a document match a filter?
_matches = cast(Callable[[Mapping[str, Any], Mapping[str, Any]], bool],
                filtering.filter_applies)


def create_indexes(ctx: Context, command: Command) -> Reply:
    check_fields("createIndexes", command, {"createIndexes", "indexes", "commitQuorum"})
    collection = ctx.collection(command)
    existed = collection.name in ctx.database.list_collection_names()
    before = len(collection.index_information()) if existed else 0
    for spec in command.get("indexes", []):
        check_fields("an index", spec, _INDEX_OPTIONS)
        if not spec.get("key"):
            raise CommandError(9, "FailedToParse", f"index {spec.get('name')!r} has no key")
        collection.create_index(list(spec["key"].items()), name=spec.get("name"),
                                unique=bool(spec.get("unique")),
                                sparse=bool(spec.get("sparse")))
    return {"createdCollectionAutomatically": not existed, "numIndexesBefore": before,
            "numIndexesAfter": len(collection.index_information())}


def list_indexes(ctx: Context, command: Command) -> Reply:
    check_fields("listIndexes", command, {"listIndexes", "cursor"})
    collection = ctx.collection(command)
    if collection.name not in ctx.database.list_collection_names():
        raise CommandError(26, "NamespaceNotFound", f"ns does not exist: "
                           f"{ctx.namespace(command)}")
    return ctx.cursors.first_batch(ctx.namespace(command),
                                   [_index_document(name, info) for name, info
                                    in collection.index_information().items()])


def _index_document(name: str, info: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = {"v": 2, "key": OrderedDict(info["key"]), "name": name}
    for option in ("unique", "sparse"):
        if info.get(option):
            document[option] = True
    return document


def create(ctx: Context, command: Command) -> Reply:
    check_fields("create", command, {"create"})
    try:
        ctx.database.create_collection(command["create"])
    except CollectionInvalid as err:
        raise CommandError(48, "NamespaceExists", str(err)) from err
    return {}


def drop(ctx: Context, command: Command) -> Reply:
    check_fields("drop", command, {"drop"})
    collection = ctx.collection(command)
    indexes = (len(collection.index_information())
               if collection.name in ctx.database.list_collection_names() else 0)
    ctx.database.drop_collection(collection.name)
    return {"ns": ctx.namespace(command), "nIndexesWas": indexes}


def drop_database(ctx: Context, command: Command) -> Reply:
    check_fields("dropDatabase", command, {"dropDatabase"})
    ctx.client.drop_database(ctx.database_name)
    return {"dropped": ctx.database_name}


def list_collections(ctx: Context, command: Command) -> Reply:
    check_fields("listCollections", command, {"listCollections", "filter", "nameOnly",
                                              "authorizedCollections", "cursor"})
    described = [{"name": name, "type": "collection", "options": {},
                  "info": {"readOnly": False}}
                 for name in sorted(ctx.database.list_collection_names())]
    wanted = [d for d in described if _matches(command.get("filter") or {}, d)]
    if command.get("nameOnly"):
        wanted = [{"name": d["name"], "type": d["type"]} for d in wanted]
    return ctx.cursors.first_batch(f"{ctx.database_name}.$cmd.listCollections", wanted)


def list_databases(ctx: Context, command: Command) -> Reply:
    check_fields("listDatabases", command, {"listDatabases", "filter", "nameOnly",
                                            "authorizedDatabases"})
    names = sorted(ctx.client.list_database_names())
    databases = [{"name": name, "sizeOnDisk": 0, "empty": False} for name in names]
    wanted = [d for d in databases if _matches(command.get("filter") or {}, d)]
    return {"databases": wanted, "totalSize": 0}
