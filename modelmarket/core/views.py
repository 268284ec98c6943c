from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.template.response import TemplateResponse
from django.templatetags.static import static
from ninja.openapi.docs import Swagger

from config.api import api


def home(request: HttpRequest) -> TemplateResponse:
    """The landing page. The header's search box sends `q` here until the catalog has its own page."""
    search_query = request.GET.get("q", "").strip()[:200]
    return TemplateResponse(request, "core/home.html", {"search_query": search_query})


def api_docs(request: HttpRequest) -> HttpResponse:
    """Interactive docs for /api/v1/, served from our own static files (no CDN)."""
    return Swagger().render_page(request, api)


def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Browsers ask for /favicon.ico whatever the page says; send them to the logo."""
    return HttpResponsePermanentRedirect(static("img/logo.svg"))


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return TemplateResponse(request, "404.html", status=404).render()


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return TemplateResponse(request, "403.html", status=403).render()


def server_error(request: HttpRequest) -> HttpResponse:
    # No context processors that touch the database: this page must render while the database is down.
    from django.template import loader

    return HttpResponse(loader.get_template("500.html").render({}), status=500)
