"""Reading and writing documents: insert, update, delete, find, findAndModify, count,
distinct and aggregate, each run on a mongomock collection and answered as MongoDB would.

Every handler runs while the server holds its command lock, so a read followed by a
write here (findAndModify) is as atomic as MongoDB's single-document operations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymongo.errors import DuplicateKeyError, OperationFailure, WriteError

from tests.standin.context import Command, Context, Reply, check_fields, sort_spec
from tests.standin.errors import CommandError

_WRITE_FAILURES = (DuplicateKeyError, WriteError, OperationFailure, ValueError, TypeError)


def insert(ctx: Context, command: Command) -> Reply:
    check_fields("insert", command, {"insert", "documents", "ordered",
                                     "bypassDocumentValidation"})
    collection, ordered = ctx.collection(command), command.get("ordered", True)
    inserted, errors = 0, []
    for index, document in enumerate(command.get("documents", [])):
        try:
            collection.insert_one(document)
        except _WRITE_FAILURES as err:
            errors.append(_write_error(index, err))
            if ordered:
                break
        else:
            inserted += 1
    return _with_errors({"n": inserted}, errors)


def update(ctx: Context, command: Command) -> Reply:
    check_fields("update", command, {"update", "updates", "ordered",
                                     "bypassDocumentValidation"})
    collection, ordered = ctx.collection(command), command.get("ordered", True)
    matched, modified, upserted, errors = 0, 0, [], []
    for index, spec in enumerate(command.get("updates", [])):
        check_fields("an update statement", spec, {"q", "u", "multi", "upsert", "hint"})
        try:
            result = _update_one_statement(collection, spec)
        except _WRITE_FAILURES as err:
            errors.append(_write_error(index, err))
            if ordered:
                break
            continue
        matched += result.get("n", 0)
        modified += result.get("nModified", 0)
        if result.get("upserted") is not None:
            upserted.append({"index": index, "_id": result["upserted"]})
    reply: Reply = {"n": matched, "nModified": modified}
    if upserted:
        reply["upserted"] = upserted
    return _with_errors(reply, errors)


def _update_one_statement(collection: Any, spec: Mapping[str, Any]) -> dict[str, Any]:
    query, change, upsert = spec.get("q", {}), spec["u"], bool(spec.get("upsert"))
    if _is_replacement(change):
        if spec.get("multi"):
            raise CommandError(9, "FailedToParse", "multi update needs update operators")
        result = collection.replace_one(query, change, upsert=upsert)
    elif spec.get("multi"):
        result = collection.update_many(query, change, upsert=upsert)
    else:
        result = collection.update_one(query, change, upsert=upsert)
    raw: dict[str, Any] = result.raw_result
    return raw


def delete(ctx: Context, command: Command) -> Reply:
    check_fields("delete", command, {"delete", "deletes", "ordered"})
    collection, removed = ctx.collection(command), 0
    for spec in command.get("deletes", []):
        check_fields("a delete statement", spec, {"q", "limit", "hint"})
        if spec.get("limit") == 1:
            removed += collection.delete_one(spec.get("q", {})).deleted_count
        else:
            removed += collection.delete_many(spec.get("q", {})).deleted_count
    return {"n": removed}


def find(ctx: Context, command: Command) -> Reply:
    check_fields("find", command, {"find", "filter", "projection", "sort", "skip", "limit",
                                   "batchSize", "singleBatch", "noCursorTimeout",
                                   "allowDiskUse", "hint"})
    limit = int(command.get("limit", 0))
    found = ctx.collection(command).find(
        command.get("filter") or {}, command.get("projection") or None,
        skip=int(command.get("skip", 0)), limit=abs(limit), sort=sort_spec(command.get("sort")))
    return ctx.cursors.first_batch(ctx.namespace(command), found,
                                   batch_size=command.get("batchSize"),
                                   single_batch=bool(command.get("singleBatch")) or limit < 0)


def count(ctx: Context, command: Command) -> Reply:
    check_fields("count", command, {"count", "query", "skip", "limit", "hint"})
    found = ctx.collection(command).find(command.get("query") or {},
                                         skip=int(command.get("skip", 0)),
                                         limit=abs(int(command.get("limit", 0))))
    return {"n": len(list(found))}


def distinct(ctx: Context, command: Command) -> Reply:
    check_fields("distinct", command, {"distinct", "key", "query", "hint"})
    values = ctx.collection(command).distinct(command["key"], command.get("query") or {})
    return {"values": list(values)}


def aggregate(ctx: Context, command: Command) -> Reply:
    check_fields("aggregate", command, {"aggregate", "pipeline", "cursor", "allowDiskUse",
                                        "hint"})
    results = ctx.collection(command).aggregate(list(command.get("pipeline", [])))
    cursor_options = command.get("cursor") or {}
    return ctx.cursors.first_batch(ctx.namespace(command), results,
                                   batch_size=cursor_options.get("batchSize"))


def find_and_modify(ctx: Context, command: Command) -> Reply:
    check_fields("findAndModify", command, {"findAndModify", "query", "sort", "remove",
                                            "update", "new", "fields", "upsert",
                                            "bypassDocumentValidation"})
    collection, fields = ctx.collection(command), command.get("fields") or None
    query = command.get("query") or {}
    target = collection.find_one(query, sort=sort_spec(command.get("sort")))
    if command.get("remove"):
        value = _fetch(collection, target, fields)
        if target is not None:
            collection.delete_one({"_id": target["_id"]})
        return {"value": value, "lastErrorObject": {"n": int(target is not None)}}
    if "update" not in command:
        raise CommandError(9, "FailedToParse", "findAndModify needs either update or remove")
    try:
        return _modify(collection, command, query, target, fields)
    except DuplicateKeyError as err:
        raise CommandError(11000, "DuplicateKey", str(err)) from err


def _modify(collection: Any, command: Command, query: Mapping[str, Any],
            target: Mapping[str, Any] | None, fields: Mapping[str, Any] | None) -> Reply:
    change, new = command["update"], bool(command.get("new"))
    if target is None:
        if not command.get("upsert"):
            return {"value": None, "lastErrorObject": {"n": 0, "updatedExisting": False}}
        created = _upsert(collection, query, change)
        value = _fetch(collection, created, fields) if new else None
        return {"value": value, "lastErrorObject": {"n": 1, "updatedExisting": False,
                                                    "upserted": created["_id"]}}
    before = _fetch(collection, target, fields)
    # Update the very document found above, by _id, while the command lock is held.
    by_id = {"_id": target["_id"]}
    if _is_replacement(change):
        collection.replace_one(by_id, change)
    else:
        collection.update_one(by_id, change)
    value = _fetch(collection, target, fields) if new else before
    return {"value": value, "lastErrorObject": {"n": 1, "updatedExisting": True}}


def _upsert(collection: Any, query: Mapping[str, Any], change: Any) -> Mapping[str, Any]:
    if _is_replacement(change):
        created = collection.find_one_and_replace(query, change, upsert=True,
                                                  return_document=True)
    else:
        created = collection.find_one_and_update(query, change, upsert=True,
                                                 return_document=True)
    document: Mapping[str, Any] = created
    return document


def _fetch(collection: Any, document: Mapping[str, Any] | None,
           fields: Mapping[str, Any] | None) -> Any:
    """The stored document as it is now, with the command's projection applied."""
    if document is None:
        return None
    return collection.find_one({"_id": document["_id"]}, fields)


def _is_replacement(change: Any) -> bool:
    """True for a whole new document; False for operators ($set ...) or a pipeline."""
    if isinstance(change, list):
        return False
    return not any(key.startswith("$") for key in change)


def _write_error(index: int, err: Exception) -> dict[str, Any]:
    code = getattr(err, "code", None) or (11000 if isinstance(err, DuplicateKeyError) else 2)
    return {"index": index, "code": code, "errmsg": str(err)}


def _with_errors(reply: Reply, errors: list[dict[str, Any]]) -> Reply:
    if errors:
        reply["writeErrors"] = errors
    return reply
