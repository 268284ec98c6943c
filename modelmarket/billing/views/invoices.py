"""Billing pages: the buyer's invoices, one printable invoice, and its PDF. The same selectors serve
`/api/v1/invoices`: a buyer sees their own, the creator of the listing sold sees the sale, staff see all; anyone
else gets a 404."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, re_path
from django.views.decorators.http import require_GET

from modelmarket.billing.invoice_pdf import invoice_pdf_response
from modelmarket.billing.models import Invoice
from modelmarket.billing.selectors.invoices import (
    InvoiceFacts,
    invoice_facts,
    invoice_facts_list,
    invoice_get_for_viewer,
    invoice_list_for_buyer,
)
from modelmarket.core.exceptions import NotFound

INVOICES_PER_PAGE = 50
NUMBER_PATTERN = r"(?P<number>\d{4}-\d{6,9})"


def _facts(request: HttpRequest, number: str) -> tuple[Invoice, InvoiceFacts]:
    try:
        invoice = invoice_get_for_viewer(viewer=request.user, number=number)
    except NotFound as error:
        raise Http404(error.message) from error
    return invoice, invoice_facts(invoice=invoice)


@login_required
@require_GET
def invoice_list(request: HttpRequest) -> TemplateResponse:
    page = Paginator(invoice_list_for_buyer(buyer=request.user), INVOICES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    rows = invoice_facts_list(invoices=list(page.object_list))
    return TemplateResponse(request, "billing/invoice_list.html", {"page": page, "invoices": rows})


@login_required
@require_GET
def invoice_detail(request: HttpRequest, number: str) -> TemplateResponse:
    invoice, facts = _facts(request, number)
    context = {"invoice": facts, "is_buyer": invoice.buyer_id == request.user.pk}
    return TemplateResponse(request, "billing/invoice_detail.html", context)


@login_required
@require_GET
def invoice_pdf(request: HttpRequest, number: str) -> HttpResponse:
    _, facts = _facts(request, number)
    return invoice_pdf_response(facts)


urlpatterns: list[URLPattern] = [
    path("account/invoices/", invoice_list, name="billing_invoices"),
    re_path(rf"^account/invoices/{NUMBER_PATTERN}/$", invoice_detail, name="billing_invoice_detail"),
    re_path(rf"^account/invoices/{NUMBER_PATTERN}\.pdf$", invoice_pdf, name="billing_invoice_pdf"),
]
