from tests.conftest import Api


async def test_who_processes_answers_for_the_seeded_group(api: Api) -> None:
    data = await api.data(
        '{ whoProcesses(dataCategory: "user.voice.recording") { entity { slug } role } }'
    )
    slugs = {p["entity"]["slug"] for p in data["whoProcesses"]}
    assert "talkdesk" in slugs and "mood-media-austria" in slugs
