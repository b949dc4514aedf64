"""Projects: create/get/update/list/delete through LogClient, and their errors."""

from helpers import expect_error, unique_name


def test_create_get_update_project(client):
    name = unique_name("ct-proj")
    client.create_project(name, "first description")
    try:
        got = client.get_project(name)
        assert got.get_projectname() == name
        assert got.get_description() == "first description"
        assert got.get_status()  # e.g. "Normal"
        assert got.get_region() is not None
        assert got.get_owner() is not None
        created = int(got.get_create_time())
        assert created > 1_600_000_000
        assert int(got.get_last_modify_time()) >= created

        client.update_project(name, "second description")
        got = client.get_project(name)
        assert got.get_description() == "second description"
        assert got.get_projectname() == name
        assert int(got.get_last_modify_time()) >= created
    finally:
        client.delete_project(name)


def test_create_duplicate_project(client, project):
    expect_error(lambda: client.create_project(project, "again"), "ProjectAlreadyExist")


def test_list_projects_paging(client):
    prefix = unique_name("ct-list")
    names = sorted(prefix + suffix for suffix in ("-a", "-b", "-c"))
    for n in names:
        client.create_project(n, "listed " + n)
    try:
        page1 = client.list_project(offset=0, size=2, project_name_pattern=prefix)
        assert page1.get_count() == 2
        assert page1.get_total() == 3
        got1 = [p["projectName"] for p in page1.get_projects()]
        assert len(got1) == 2

        page2 = client.list_project(offset=2, size=2, project_name_pattern=prefix)
        assert page2.get_count() == 1
        assert page2.get_total() == 3
        got2 = [p["projectName"] for p in page2.get_projects()]
        assert len(got2) == 1
        assert sorted(got1 + got2) == names

        # Project entries carry their description.
        by_name = {p["projectName"]: p for p in page1.get_projects() + page2.get_projects()}
        for n in names:
            assert by_name[n]["description"] == "listed " + n

        # Past the end: empty page, same total.
        page3 = client.list_project(offset=3, size=2, project_name_pattern=prefix)
        assert page3.get_count() == 0
        assert page3.get_projects() == []
        assert page3.get_total() == 3

        # Without a pattern every project is counted and ours are there.
        everything = client.list_project(offset=0, size=500)
        assert everything.get_total() >= 3
        assert everything.get_count() == len(everything.get_projects())
        all_names = {p["projectName"] for p in everything.get_projects()}
        assert set(names) <= all_names
    finally:
        for n in names:
            client.delete_project(n)

    after = client.list_project(offset=0, size=10, project_name_pattern=prefix)
    assert after.get_total() == 0
    assert after.get_count() == 0


def test_delete_project(client):
    name = unique_name("ct-del")
    client.create_project(name, "to be deleted")
    assert client.get_project(name).get_projectname() == name
    client.delete_project(name)
    expect_error(lambda: client.get_project(name), "ProjectNotExist")
    listed = client.list_project(offset=0, size=500, project_name_pattern=name)
    assert listed.get_total() == 0


def test_get_missing_project(client):
    missing = unique_name("ct-missing")
    ex = expect_error(lambda: client.get_project(missing), "ProjectNotExist", status=404)
    assert missing in ex.get_error_message()
    expect_error(lambda: client.delete_project(missing), "ProjectNotExist")
    expect_error(lambda: client.update_project(missing, "x"), "ProjectNotExist")


def test_create_project_bad_name(client):
    # Underscores are not allowed in project names; the SDK sends it as is, the server must refuse.
    expect_error(lambda: client.create_project("ct_bad_name", "bad"), "ParameterInvalid", status=400)
