"""Index configuration: create/get/update/delete through LogClient."""

from helpers import DEFAULT_TOKENS, expect_error, index_config


def test_index_lifecycle(client, project):
    client.create_logstore(project, "indexed", ttl=7, shard_count=1)
    cfg = index_config({"status": "long", "latency": "double", "msg": "text"})
    client.create_index(project, "indexed", cfg)

    got = client.get_index_config(project, "indexed").get_index_config()
    assert got.line_config is not None
    assert got.line_config.token_list == DEFAULT_TOKENS
    assert got.line_config.case_sensitive is False
    assert sorted(got.key_config_list) == ["latency", "msg", "status"]
    assert got.key_config_list["status"].index_type == "long"
    assert got.key_config_list["latency"].index_type == "double"
    msg = got.key_config_list["msg"]
    assert msg.index_type == "text"
    assert msg.token_list == DEFAULT_TOKENS
    assert msg.case_sensitive is False
    assert msg.doc_value is True

    # Creating it twice is refused.
    expect_error(lambda: client.create_index(project, "indexed", cfg), "IndexAlreadyExist")

    # Update: msg becomes case-sensitive, a `user` text key is added, latency is dropped.
    cfg2 = index_config({"status": "long", "msg": "text", "user": "text"})
    cfg2.key_config_list["msg"].case_sensitive = True
    client.update_index(project, "indexed", cfg2)
    got = client.get_index_config(project, "indexed").get_index_config()
    assert sorted(got.key_config_list) == ["msg", "status", "user"]
    assert got.key_config_list["msg"].case_sensitive is True
    assert got.key_config_list["user"].index_type == "text"
    assert got.key_config_list["status"].index_type == "long"

    client.delete_index(project, "indexed")
    expect_error(lambda: client.get_index_config(project, "indexed"), "IndexConfigNotExist")


def test_index_without_full_text(client, project):
    client.create_logstore(project, "fields-only", ttl=7, shard_count=1)
    client.create_index(project, "fields-only", index_config({"status": "long"}, line=False))
    got = client.get_index_config(project, "fields-only").get_index_config()
    assert got.line_config is None
    assert list(got.key_config_list) == ["status"]
    assert got.key_config_list["status"].index_type == "long"


def test_index_on_missing_logstore(client, project):
    expect_error(lambda: client.create_index(project, "nope-store", index_config({"a": "text"})),
                 "LogStoreNotExist")
    expect_error(lambda: client.get_index_config(project, "nope-store"), "LogStoreNotExist")
