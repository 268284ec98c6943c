from __future__ import annotations

import re

import pytest
from django.test import Client, RequestFactory

from modelmarket.core.views import server_error

PAGES = ["/", "/accounts/login/", "/accounts/signup/", "/does-not-exist/"]


@pytest.mark.django_db
def test_home_page_explains_the_marketplace_to_visitors(client):
    response = client.get("/")
    assert response.status_code == 200
    page = response.text
    assert "<title>ModelMarket · AI models, one API</title>" in page
    assert "Find, buy and call AI models through one API" in page
    assert 'id="buyers"' in page
    assert 'id="creators"' in page
    assert 'href="/accounts/signup/"' in page
    assert "lorem" not in page.lower()


@pytest.mark.django_db
def test_home_page_calls_signed_in_people_to_their_keys(client, buyer):
    client.force_login(buyer)
    page = client.get("/").text
    assert 'href="/account/keys/"' in page
    assert "Create a free account" not in page


@pytest.mark.django_db
def test_search_box_submits_to_the_catalog(client):
    page = client.get("/").text
    form = re.search(
        r'<form class="site-search" action="/models/" method="get" role="search" data-autocomplete>(.*?)</form>',
        page,
        re.S,
    )
    assert form is not None
    assert '<label class="visually-hidden" for="site-search">Search models</label>' in form.group(1)
    assert 'name="q"' in form.group(1)


@pytest.mark.django_db
def test_a_search_explains_that_the_catalog_is_coming_and_escapes_the_query(client):
    page = client.get("/", {"q": "<script>llama</script>"}).text
    assert "Search opens with the catalog" in page
    assert "“&lt;script&gt;llama&lt;/script&gt;”" in page
    assert "<script>llama" not in page


@pytest.mark.django_db
def test_unknown_pages_get_the_friendly_404_in_the_layout(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "We couldn't find that page" in response.text
    assert 'class="site-header"' in response.text


def test_the_500_page_renders_without_the_database():
    # No django_db mark: any query here fails the test.
    response = server_error(RequestFactory().get("/boom/"))
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong on our side" in page
    assert 'href="/static/css/site.css"' in page
    assert "Log in" not in page


@pytest.mark.django_db
@pytest.mark.parametrize("url", PAGES)
def test_pages_have_landmarks_a_skip_link_and_the_theme_script_before_the_stylesheet_paints(client, url):
    page = client.get(url).text
    assert '<a class="skip-link" href="#main">Skip to main content</a>' in page
    for landmark in ('<header class="site-header">', '<main id="main"', '<footer class="site-footer">'):
        assert landmark in page
    head = page.split("</head>", 1)[0]
    assert '<script src="/static/js/theme.js"></script>' in head  # blocking, in <head>
    assert '<script src="/static/vendor/htmx-2.0.11.min.js" defer></script>' in head
    button = re.search(r"<button[^>]*data-theme-toggle[^>]*>", page).group(0)
    assert 'aria-pressed="false"' in button
    assert 'aria-label="Dark theme"' in button
    assert 'href="/api/docs"' in page


@pytest.mark.django_db
@pytest.mark.parametrize("url", PAGES)
def test_pages_have_no_inline_scripts_or_style_attributes_so_the_csp_holds(client, url):
    response = client.get(url)
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self';" in policy
    assert "unsafe-inline" not in policy
    scripts_without_src = [tag for tag in re.findall(r"<script[^>]*>", response.text) if "src=" not in tag]
    assert scripts_without_src == []
    assert re.search(r"\sstyle=", response.text) is None


@pytest.mark.django_db
def test_flash_messages_are_announced(client, buyer):
    client.force_login(buyer)
    client.post("/account/settings/", {"display_name": "Ada", "bio": "", "links": ""})
    page = client.get("/account/settings/").text
    assert '<div class="alert alert-success" role="status">' in page


@pytest.mark.django_db
def test_theme_script_stylesheet_and_htmx_are_served(settings):
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    client = Client()  # a new client builds its middleware with the settings above
    theme = client.get("/static/js/theme.js")
    assert theme.status_code == 200
    assert theme["Content-Type"].startswith("text/javascript")
    theme_source = b"".join(theme.streaming_content)
    assert b'localStorage.getItem("mm-theme")' in theme_source
    css = client.get("/static/css/site.css")
    assert css.status_code == 200
    css_source = b"".join(css.streaming_content)
    assert b':root[data-theme="dark"]' in css_source
    assert b"@media (prefers-color-scheme: dark)" in css_source
    assert client.get("/static/vendor/htmx-2.0.11.min.js").status_code == 200
    assert client.get("/static/js/site.js").status_code == 200


def test_the_pagination_component_links_pages_and_keeps_the_other_parameters():
    from django.core.paginator import Paginator
    from django.template.loader import render_to_string

    page = Paginator(list(range(30)), 10).page(2)
    html = render_to_string(
        "components/pagination.html", {"page": page, "query": "status=failed", "next_label": "Older"}
    )
    assert 'href="?status=failed&amp;page=1">Previous</a>' in html
    assert 'href="?status=failed&amp;page=3">Older</a>' in html
    assert "Page 2 of 3" in html
    assert render_to_string("components/pagination.html", {"page": Paginator([1], 10).page(1)}).strip() == ""
