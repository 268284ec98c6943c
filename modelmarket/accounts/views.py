from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest
from django.template.response import TemplateResponse


@login_required
def api_keys(request: HttpRequest) -> TemplateResponse:
    return TemplateResponse(request, "accounts/api_keys.html")
