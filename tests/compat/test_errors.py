"""Authentication errors, V4 signing, and the not-yet-supported SQL path."""

import time

import pytest
import requests
from aliyun.log import LogClient, LogException, LogItem, PutLogsRequest
from aliyun.log.auth import AUTH_VERSION_4

from conftest import CLIENT_SOURCE, make_client
from helpers import SDK_SIDE_CODES, expect_error, index_config, wait_for_count


def test_wrong_secret(cairn_server, client, project):
    bad = make_client(cairn_server, secret=cairn_server.credentials["accessKeySecret"] + "x")
    expect_error(lambda: bad.list_project(), "SignatureNotMatch")
    # Authentication comes before anything else: an existing project does not leak.
    expect_error(lambda: bad.get_project(project), "SignatureNotMatch")
    req = PutLogsRequest(project, "whatever", "", "s", [LogItem(contents=[("k", "v")])])
    expect_error(lambda: bad.put_logs(req), "SignatureNotMatch")


def test_unknown_access_key(cairn_server, project):
    stranger = make_client(cairn_server, access_key_id="LTAI5tUnknownKeyId000000", secret="nope")
    expect_error(lambda: stranger.list_project(), "Unauthorized", "InvalidAccessKeyId")
    expect_error(lambda: stranger.get_project(project), "Unauthorized", "InvalidAccessKeyId")


def test_unsigned_request(cairn_server, project):
    r = requests.get(cairn_server.base_url + "/", headers={"Host": project + ".127.0.0.1"}, timeout=10)
    assert 400 <= r.status_code < 500
    body = r.json()
    assert body.get("errorCode"), body
    assert body.get("errorMessage"), body
    assert r.headers.get("x-log-requestid")


def test_v4_signing(cairn_server, project):
    creds = cairn_server.credentials
    v4 = LogClient(cairn_server.endpoint, creds["accessKeyId"], creds["accessKeySecret"],
                   auth_version=AUTH_VERSION_4, region="cn-hangzhou")
    v4._isRowIp = True
    v4.set_source(CLIENT_SOURCE)
    assert v4.get_project(project).get_projectname() == project
    v4.create_logstore(project, "v4-store", ttl=1, shard_count=1)
    v4.create_index(project, "v4-store", index_config({"k": "text"}))
    t = int(time.time()) - 30
    v4.put_logs(PutLogsRequest(project, "v4-store", "", "s", [LogItem(timestamp=t, contents=[("k", "v4 signed")])]))
    resp = wait_for_count(v4, project, "v4-store", t, t + 1, 1, query="k: signed")
    assert resp.get_logs()[0].get_contents()["k"] == "v4 signed"

    wrong = LogClient(cairn_server.endpoint, creds["accessKeyId"], creds["accessKeySecret"] + "x",
                      auth_version=AUTH_VERSION_4, region="cn-hangzhou")
    wrong._isRowIp = True
    expect_error(lambda: wrong.get_project(project), "SignatureNotMatch")


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_sql_query_is_a_clear_error(client, client_v1, project, version):
    """Bad SQL after `|` fails cleanly: a server error code, a 4xx (a 5xx would make the SDK
    retry 10 times), and a message that names SQL."""
    c = client if version == "v2" else client_v1
    c.create_logstore(project, "sql", ttl=1, shard_count=1)
    c.create_index(project, "sql", index_config({"k": "text"}))
    now = int(time.time())
    with pytest.raises(LogException) as info:
        c.get_log(project, "sql", now - 60, now + 60, query="* | select count(* from")
    ex = info.value
    assert ex.get_error_code() and ex.get_error_code() not in SDK_SIDE_CODES, str(ex)
    assert 400 <= ex.resp_status < 500, "HTTP %s: %s" % (ex.resp_status, ex)
    assert ex.get_request_id()
    assert "sql" in ex.get_error_message().lower(), ex.get_error_message()
