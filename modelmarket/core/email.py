"""Email leaves through the job queue: requests never wait on an SMTP server, and a failed send is retried."""

from __future__ import annotations

from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.db import transaction


def email_message_to_data(message: EmailMessage) -> dict[str, object]:
    alternatives = getattr(message, "alternatives", [])
    return {
        "subject": str(message.subject),
        "body": str(message.body),
        "from_email": message.from_email,
        "to": list(message.to),
        "cc": list(message.cc),
        "bcc": list(message.bcc),
        "reply_to": list(message.reply_to),
        "headers": dict(message.extra_headers),
        "alternatives": [(str(content), mimetype) for content, mimetype in alternatives],
    }


def email_message_from_data(data: dict[str, object]) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=str(data["subject"]),
        body=str(data["body"]),
        from_email=data["from_email"],  # type: ignore[arg-type]
        to=data["to"],  # type: ignore[arg-type]
        cc=data["cc"],  # type: ignore[arg-type]
        bcc=data["bcc"],  # type: ignore[arg-type]
        reply_to=data["reply_to"],  # type: ignore[arg-type]
        headers=data["headers"],  # type: ignore[arg-type]
    )
    for content, mimetype in data["alternatives"]:  # type: ignore[attr-defined]
        message.attach_alternative(content, mimetype)
    return message


def email_enqueue(message: EmailMessage) -> None:
    """Queue `message` to be sent once the current transaction commits (at once outside a transaction)."""
    from modelmarket.core.tasks import email_send

    data = email_message_to_data(message)
    transaction.on_commit(lambda: email_send(data))
