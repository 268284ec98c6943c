"""What a validator returns: a status for the file, the format it really is, and a report shown to people."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelmarket.catalog.vocabulary import FileFormat, ValidationStatus


@dataclass
class ValidationResult:
    status: str
    file_format: str = FileFormat.OTHER
    detected: str = ""
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def report(self, *, size_bytes: int) -> dict[str, Any]:
        return {
            "format": self.file_format,
            "detected": self.detected,
            "size_bytes": size_bytes,
            "errors": self.errors,
            "warnings": self.warnings,
            **self.details,
        }


def invalid(message: str, *, detected: str = "", file_format: str = FileFormat.OTHER) -> ValidationResult:
    return ValidationResult(
        status=ValidationStatus.INVALID, file_format=file_format, detected=detected, errors=[message]
    )
