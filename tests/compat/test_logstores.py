"""Logstores: create/get/update/list/delete through LogClient, and their errors."""

from helpers import expect_error, unique_name


def test_create_get_logstore(client, project):
    client.create_logstore(project, "access_log", ttl=7, shard_count=3)
    got = client.get_logstore(project, "access_log")
    assert got.logstore_name == "access_log"
    assert got.get_ttl() == 7
    assert got.get_shard_count() == 3
    # Fields the SDK echoes back in update_logstore must round-trip with their defaults.
    assert got.get_enable_tracking() is False
    assert got.auto_split is True
    assert got.max_split_shard == 64
    assert got.append_meta is False


def test_update_logstore_ttl(client, project):
    client.create_logstore(project, "app-log", ttl=30, shard_count=2)
    # update_logstore does a GET first and PUTs back every field with the new ttl.
    client.update_logstore(project, "app-log", ttl=90)
    got = client.get_logstore(project, "app-log")
    assert got.get_ttl() == 90
    assert got.get_shard_count() == 2
    assert got.logstore_name == "app-log"


def test_list_logstores(client, project):
    names = ["alpha-log", "beta-log", "gamma_log"]
    for n in names:
        client.create_logstore(project, n, ttl=1, shard_count=1)

    listed = client.list_logstore(project)
    assert listed.get_count() == 3
    assert listed.get_total() == 3
    assert sorted(listed.get_logstores()) == names

    page1 = client.list_logstore(project, offset=0, size=2)
    page2 = client.list_logstore(project, offset=2, size=2)
    assert page1.get_count() == 2 and page1.get_total() == 3
    assert page2.get_count() == 1 and page2.get_total() == 3
    assert sorted(page1.get_logstores() + page2.get_logstores()) == names

    # logstoreName filters by substring.
    filtered = client.list_logstore(project, logstore_name_pattern="-log")
    assert sorted(filtered.get_logstores()) == ["alpha-log", "beta-log"]
    assert filtered.get_total() == 2


def test_delete_logstore(client, project):
    client.create_logstore(project, "short-lived", ttl=1, shard_count=1)
    client.create_logstore(project, "keeper", ttl=1, shard_count=1)
    client.delete_logstore(project, "short-lived")
    expect_error(lambda: client.get_logstore(project, "short-lived"), "LogStoreNotExist", status=404)
    listed = client.list_logstore(project)
    assert listed.get_logstores() == ["keeper"]
    assert listed.get_total() == 1
    expect_error(lambda: client.delete_logstore(project, "short-lived"), "LogStoreNotExist")


def test_missing_logstore(client, project):
    ex = expect_error(lambda: client.get_logstore(project, "no-such-store"), "LogStoreNotExist", status=404)
    assert "no-such-store" in ex.get_error_message()
    expect_error(lambda: client.update_logstore(project, "no-such-store", ttl=3), "LogStoreNotExist")


def test_logstore_in_missing_project(client):
    missing = unique_name("ct-nope")
    expect_error(lambda: client.create_logstore(missing, "store", ttl=1, shard_count=1), "ProjectNotExist")
    expect_error(lambda: client.get_logstore(missing, "store"), "ProjectNotExist")


def test_duplicate_logstore(client, project):
    client.create_logstore(project, "dup-store", ttl=1, shard_count=1)
    expect_error(lambda: client.create_logstore(project, "dup-store", ttl=1, shard_count=1),
                 "LogStoreAlreadyExist")


def test_bad_logstore_name(client, project):
    # The SDK does no name validation: these reach the server, which must say ParameterInvalid.
    for bad in ("BadName", "_leading", "x"):
        expect_error(lambda: client.create_logstore(project, bad, ttl=1, shard_count=1),
                     "ParameterInvalid", status=400)
    assert client.list_logstore(project).get_total() == 0
