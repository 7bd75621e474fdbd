"""The chat pages, as alice, bob and carol see them in a browser (the seeded demo data)."""

from __future__ import annotations

import re

import httpx

from tests.web.conftest import api, channel_ids, signed_in


def unread_badge(html: str, channel: str) -> str | None:
    """The number on a channel's unread badge in the sidebar, or None without one."""
    match = re.search(rf'data-testid="unread-{re.escape(channel)}"[^>]*>(\d+)<', html)
    return match.group(1) if match else None


async def test_chat_page_shows_unread_badges(client: httpx.AsyncClient) -> None:
    await signed_in(client, "alice")

    page = await client.get("/chat")

    assert page.status_code == 200
    assert unread_badge(page.text, "design") == "5"
    assert 'class="badge mention"' in page.text


async def test_opening_a_channel_clears_its_badge(client: httpx.AsyncClient) -> None:
    await signed_in(client, "alice")
    design = (await channel_ids(client))["design"]

    channel = await client.get(f"/chat/{design}")
    after = await client.get("/chat")

    assert channel.status_code == 200
    # The channel's own page already shows the counts after the read.
    assert unread_badge(channel.text, "design") is None
    assert unread_badge(after.text, "design") is None


async def test_channel_shows_messages_oldest_to_newest(client: httpx.AsyncClient) -> None:
    await signed_in(client, "alice")
    design = (await channel_ids(client))["design"]
    newest_first = (await api(client, "GET", f"/api/chat/channels/{design}/messages",
                              params={"limit": 3})).json()["items"]

    page = await client.get(f"/chat/{design}")

    positions = [page.text.index(f'id="m{m["id"]}"') for m in newest_first]
    assert positions == sorted(positions, reverse=True)


async def test_posting_a_message_shows_it_in_the_channel(client: httpx.AsyncClient) -> None:
    csrf = await signed_in(client, "alice")
    design = (await channel_ids(client))["design"]

    posted = await client.post(f"/chat/{design}/messages",
                               data={"text": "Mockups v3 are in Figma", "csrf_token": csrf})
    page = await client.get(posted.headers["location"].split("#")[0])

    assert posted.status_code == 303
    assert posted.headers["location"] == f"/chat/{design}#latest"
    assert "Mockups v3 are in Figma" in page.text


async def test_posting_without_csrf_token_is_refused_and_posts_nothing(
        client: httpx.AsyncClient) -> None:
    await signed_in(client, "alice")
    design = (await channel_ids(client))["design"]

    refused = await client.post(f"/chat/{design}/messages", data={"text": "Forged message"})
    wrong = await client.post(f"/chat/{design}/messages",
                              data={"text": "Forged message", "csrf_token": "not-the-token"})
    page = await client.get(f"/chat/{design}")

    assert refused.status_code == wrong.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert "Forged message" not in page.text


async def test_blank_message_shows_why_and_keeps_the_page(client: httpx.AsyncClient) -> None:
    csrf = await signed_in(client, "alice")
    design = (await channel_ids(client))["design"]

    response = await client.post(f"/chat/{design}/messages",
                                 data={"text": "   ", "csrf_token": csrf})

    assert response.status_code == 422
    assert 'role="alert"' in response.text
    assert 'name="text"' in response.text


async def test_message_text_is_escaped(client: httpx.AsyncClient) -> None:
    csrf = await signed_in(client, "alice")
    design = (await channel_ids(client))["design"]
    await client.post(f"/chat/{design}/messages",
                      data={"text": '<script>alert("hi")</script> & <b>bold</b>',
                            "csrf_token": csrf})

    page = await client.get(f"/chat/{design}")

    assert "<script>alert" not in page.text
    assert "<b>bold</b>" not in page.text
    escaped = "&lt;script&gt;alert(&#34;hi&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"
    assert escaped in page.text


async def test_mentions_are_highlighted(client: httpx.AsyncClient) -> None:
    csrf = await signed_in(client, "alice")
    design = (await channel_ids(client))["design"]
    await client.post(f"/chat/{design}/messages",
                      data={"text": "@bob can you look? @nobody", "csrf_token": csrf})

    page = await client.get(f"/chat/{design}")

    assert '<span class="mention">@bob</span> can you look? @nobody' in page.text


async def test_thread_reply_appears_in_the_thread(client: httpx.AsyncClient) -> None:
    csrf = await signed_in(client, "alice")
    design = (await channel_ids(client))["design"]
    parent = (await api(client, "POST", f"/api/chat/channels/{design}/messages", csrf,
                        json={"text": "Which font?"})).json()["id"]

    replied = await client.post(f"/chat/{design}/messages", data={
        "text": "Inter, I think", "thread_id": str(parent), "csrf_token": csrf})
    thread = await client.get(f"/chat/{design}/threads/{parent}")
    channel = await client.get(f"/chat/{design}")

    assert replied.status_code == 303
    assert replied.headers["location"] == f"/chat/{design}/threads/{parent}#latest"
    assert "Which font?" in thread.text
    assert "Inter, I think" in thread.text
    assert f'href="/chat/{design}/threads/{parent}">1 reply</a>' in channel.text


async def test_search_links_results_to_their_channel(client: httpx.AsyncClient) -> None:
    csrf = await signed_in(client, "alice")
    design = (await channel_ids(client))["design"]
    await api(client, "POST", f"/api/chat/channels/{design}/messages", csrf,
              json={"text": "The zeppelin palette is final"})

    page = await client.get("/chat/search", params={"q": "zeppelin"})

    assert page.status_code == 200
    assert "<mark>zeppelin</mark>" in page.text.lower()
    assert f'href="/chat/{design}#m' in page.text


async def test_empty_search_shows_only_the_form(client: httpx.AsyncClient) -> None:
    await signed_in(client, "alice")

    page = await client.get("/chat/search", params={"q": "  "})

    assert page.status_code == 200
    assert 'role="search"' in page.text
    assert 'data-testid="hit-' not in page.text
    assert "result for" not in page.text


async def test_someone_elses_private_channel_is_not_found(
        client: httpx.AsyncClient, other_client: httpx.AsyncClient) -> None:
    bob_csrf = await signed_in(other_client, "bob")
    created = await api(other_client, "POST", "/api/chat/channels", bob_csrf,
                        json={"name": "surprise-party", "private": True})
    await signed_in(client, "alice")

    page = await client.get(f"/chat/{created.json()['id']}")

    assert created.status_code == 201
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert 'data-problem-type="not-found"' in page.text
    assert "surprise-party" not in page.text


async def test_own_message_says_who_has_seen_it(
        client: httpx.AsyncClient, other_client: httpx.AsyncClient) -> None:
    csrf = await signed_in(client, "alice")
    design = (await channel_ids(client))["design"]
    await client.post(f"/chat/{design}/messages", data={"text": "Seen?", "csrf_token": csrf})
    await signed_in(other_client, "bob")
    await other_client.get(f"/chat/{design}")

    page = await client.get(f"/chat/{design}")

    assert re.search(r'data-testid="seen-\d+">Seen by Bob Chen</p>', page.text)


async def test_direct_messages_are_listed_by_the_other_persons_name(
        client: httpx.AsyncClient, other_client: httpx.AsyncClient) -> None:
    bob_csrf = await signed_in(other_client, "bob")
    dm = (await api(other_client, "POST", "/api/chat/dms", bob_csrf,
                    json={"usernames": ["alice"]})).json()
    await api(other_client, "POST", f"/api/chat/channels/{dm['id']}/messages", bob_csrf,
              json={"text": "Lunch?"})
    await signed_in(client, "alice")

    page = await client.get("/chat")

    assert f'href="/chat/{dm["id"]}"' in page.text
    assert unread_badge(page.text, "Bob Chen") is not None
    assert "last seen just now" in page.text


async def test_load_older_pages_back_through_the_channel(
        client: httpx.AsyncClient, other_client: httpx.AsyncClient) -> None:
    bob_csrf = await signed_in(other_client, "bob")
    design = (await channel_ids(other_client))["design"]
    for n in range(55):
        await api(other_client, "POST", f"/api/chat/channels/{design}/messages", bob_csrf,
                  json={"text": f"Backlog item {n:02d}"})
    await signed_in(client, "alice")

    newest = await client.get(f"/chat/{design}")
    older_link = re.search(r'href="(/chat/[^"?]+\?before=[^"]+)" rel="prev"', newest.text)
    assert older_link
    older = await client.get(older_link.group(1).replace("&amp;", "&"))

    assert "Backlog item 54" in newest.text
    assert "Backlog item 04" not in newest.text
    assert "Backlog item 04" in older.text
    assert "Jump to the latest messages" in older.text


async def test_messaging_someone_opens_the_conversation(client: httpx.AsyncClient) -> None:
    csrf = await signed_in(client, "alice")

    opened = await client.post("/chat/dms", data={"username": "carol", "csrf_token": csrf})
    page = await client.get(opened.headers["location"])

    assert opened.status_code == 303
    assert "<h1>Carol Diaz</h1>" in page.text
    assert "Direct message" in page.text
