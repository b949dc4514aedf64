"""Shared helpers for the compat tests (imported by the test modules)."""

import time
import uuid

import pytest
from aliyun.log import IndexConfig, IndexKeyConfig, IndexLineConfig, LogException

# SLS's default full-text delimiters (go-sdk CreateDefaultIndex), as a token list.
DEFAULT_TOKENS = list(" \n\t\r,;[]{}()&^*#@~=<>/\\?:'\"")

# Error codes the SDK invents client-side; a server error must never look like these.
SDK_SIDE_CODES = {"LogRequestError", "BadResponse", "InvalidResponse"}


def expect_error(fn, *codes, status=None):
    """Call fn, require a LogException from the SERVER with one of `codes`; return it."""
    with pytest.raises(LogException) as info:
        fn()
    ex = info.value
    assert ex.get_error_code() in codes, "expected %s, got %s: %s (HTTP %s)" % (
        "/".join(codes), ex.get_error_code(), ex.get_error_message(), ex.resp_status)
    assert ex.get_request_id(), "error response lacks x-log-requestid: %s" % ex
    if status is not None:
        assert ex.resp_status == status, "HTTP status %s, expected %s (%s)" % (ex.resp_status, status, ex)
    assert 400 <= ex.resp_status < 500, "client errors must be 4xx, got %s" % ex.resp_status
    return ex


def index_config(keys, line=True, case_sensitive=False):
    """IndexConfig with (optionally) a full-text index and the given {key: type} field indexes."""
    key_configs = {}
    for name, typ in keys.items():
        if typ in ("text", "json"):
            key_configs[name] = IndexKeyConfig(token_list=DEFAULT_TOKENS, case_sensitive=case_sensitive,
                                               index_type=typ, doc_value=True)
        else:
            key_configs[name] = IndexKeyConfig(index_type=typ, doc_value=True)
    line_config = IndexLineConfig(token_list=DEFAULT_TOKENS, case_sensitive=case_sensitive) if line else None
    return IndexConfig(line_config=line_config, key_config_list=key_configs)


def wait_for_count(client, project, logstore, from_time, to_time, expected, query="*", timeout=15.0):
    """Poll GetLogs until `query` returns `expected` logs (logs must become searchable within
    `timeout` seconds of the PutLogs ack). Returns the last response."""
    deadline = time.time() + timeout
    resp = None
    while True:
        resp = client.get_log(project, logstore, from_time, to_time, query=query, size=100)
        if resp.get_count() == expected or time.time() > deadline:
            break
        time.sleep(0.3)
    assert resp.get_count() == expected, "after %.0fs, %r found %d logs, expected %d" % (
        timeout, query, resp.get_count(), expected)
    return resp


def unique_name(prefix):
    """A project/logstore name unique to this run: lowercase letters, digits and hyphens."""
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def delete_project_quietly(client, name):
    try:
        for ls in client.list_logstore(name, size=100).get_logstores():
            try:
                client.delete_logstore(name, ls)
            except LogException:
                pass
        client.delete_project(name)
    except LogException:
        pass
