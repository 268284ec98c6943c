"""An invoice as a PDF (fpdf2, the core Helvetica and Courier fonts: nothing to ship or embed).

Core fonts only cover Latin-1, so every text goes through `pdf_text` first: common typography (dashes, curly
quotes, ellipsis) becomes its ASCII twin and anything else outside Latin-1 becomes "?". A buyer called "Zoë 李"
gets "Zoë ?" on paper rather than a crash; the HTML page shows the name in full."""

from __future__ import annotations

from datetime import UTC

from django.http import HttpResponse
from fpdf import FPDF
from fpdf.enums import WrapMode, XPos, YPos

from modelmarket.billing.selectors.invoices import InvoiceFacts

_TYPOGRAPHY = str.maketrans(
    {
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2026": "...",
        "\u2022": "*",
        "\u00a0": " ",
        "\u202f": " ",
        "\u2009": " ",
    }
)

PAGE_WIDTH_MM = 210
MARGIN_MM = 18
CONTENT_WIDTH_MM = PAGE_WIDTH_MM - 2 * MARGIN_MM
LABEL_WIDTH_MM = 48


def pdf_text(text: str) -> str:
    """`text` in what the PDF core fonts can draw (Latin-1), unsupported characters replaced by "?"."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in str(text).translate(_TYPOGRAPHY))
    return cleaned.encode("latin-1", "replace").decode("latin-1")


class _InvoicePDF(FPDF):
    def footer(self) -> None:
        self.set_y(-14)
        self.set_font("Helvetica", size=8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, f"Page {self.page_no()}/{{nb}}", align="C")


def invoice_pdf_render(facts: InvoiceFacts, *, compress: bool = True) -> bytes:
    """The invoice as PDF bytes. `compress=False` leaves the page text readable in the bytes (for tests)."""
    pdf = _InvoicePDF(format="A4", unit="mm")
    pdf.set_compression(compress)
    pdf.set_margins(MARGIN_MM, MARGIN_MM, MARGIN_MM)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_title(pdf_text(f"Invoice {facts.number}"))
    pdf.set_author(pdf_text(facts.platform_name))
    pdf.set_creator(pdf_text(facts.platform_name))
    pdf.set_creation_date(facts.issued_at)
    pdf.add_page()
    _header(pdf, facts)
    _parties(pdf, facts)
    _amounts(pdf, facts)
    _payment(pdf, facts)
    if facts.refunds:
        _refunds(pdf, facts)
    return bytes(pdf.output())


def _header(pdf: FPDF, facts: InvoiceFacts) -> None:
    pdf.set_font("Helvetica", style="B", size=20)
    pdf.cell(CONTENT_WIDTH_MM / 2, 10, "Invoice")
    pdf.set_font("Helvetica", style="B", size=12)
    pdf.cell(
        CONTENT_WIDTH_MM / 2,
        10,
        pdf_text(facts.platform_name),
        align="R",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(2)
    _row(pdf, "Invoice number", facts.number)
    _row(pdf, "Issue date", facts.issued_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    _row(pdf, "Order", facts.order_id)
    if facts.is_fully_refunded:
        _row(pdf, "Status", "Refunded in full")
    elif facts.refunds:
        _row(pdf, "Status", "Partially refunded")
    pdf.ln(4)


def _parties(pdf: FPDF, facts: InvoiceFacts) -> None:
    _heading(pdf, "Parties")
    _row(pdf, "Buyer", f"{facts.buyer_name} <{facts.buyer_email}>")
    _row(
        pdf, "Seller", facts.seller_name if not facts.is_top_up else f"{facts.platform_name} (prepaid credit)"
    )
    _row(pdf, "Platform", facts.platform_name)
    pdf.ln(4)


def _amounts(pdf: FPDF, facts: InvoiceFacts) -> None:
    _heading(pdf, "Charges")
    _row(pdf, "Description", facts.description)
    _row(pdf, "Amount paid", facts.amount_text, bold=True)
    _row(pdf, "Platform fee", facts.platform_fee_text)
    _row(pdf, "Creator share", facts.creator_amount_text)
    if facts.refunds:
        _row(pdf, "Refunded", facts.refunded_text)
        _row(pdf, "Net paid", facts.net_paid_text, bold=True)
    pdf.ln(4)


def _payment(pdf: FPDF, facts: InvoiceFacts) -> None:
    _heading(pdf, "Payment")
    _row(pdf, "Currency", facts.currency)
    _row(pdf, "Payment", facts.payment_id)
    _row(pdf, "Transaction", facts.transaction_signature or "-", monospace=True)
    pdf.ln(4)


def _refunds(pdf: FPDF, facts: InvoiceFacts) -> None:
    _heading(pdf, "Refunds")
    for refund in facts.refunds:
        _row(pdf, refund.recorded_at.astimezone(UTC).strftime("%Y-%m-%d"), refund.amount_text, bold=True)
        _row(pdf, "Reason", refund.reason)
        _row(pdf, "Transaction", refund.transaction_signature, monospace=True)
        pdf.ln(2)


def _heading(pdf: FPDF, text: str) -> None:
    pdf.set_font("Helvetica", style="B", size=12)
    pdf.cell(0, 8, pdf_text(text), border="B", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)


def _row(pdf: FPDF, label: str, value: str, *, bold: bool = False, monospace: bool = False) -> None:
    """A label and its value; the value wraps, long unbroken ones (signatures) at any character."""
    pdf.set_font("Helvetica", size=10)
    pdf.set_text_color(90, 90, 90)
    pdf.cell(LABEL_WIDTH_MM, 6, pdf_text(label))
    pdf.set_text_color(0, 0, 0)
    if monospace:
        pdf.set_font("Courier", size=9)
    else:
        pdf.set_font("Helvetica", style="B" if bold else "", size=10)
    pdf.multi_cell(
        CONTENT_WIDTH_MM - LABEL_WIDTH_MM,
        6,
        pdf_text(value),
        wrapmode=WrapMode.CHAR if monospace else WrapMode.WORD,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )


def invoice_pdf_response(facts: InvoiceFacts) -> HttpResponse:
    """The PDF as a download named `invoice-<number>.pdf`."""
    response = HttpResponse(invoice_pdf_render(facts), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="invoice-{facts.number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response
