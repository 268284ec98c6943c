"""Image handling for uploads people make (avatars now, model covers later)."""

from __future__ import annotations

import io
import warnings

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from PIL import Image, ImageOps, UnidentifiedImageError

from modelmarket.core.exceptions import BadRequest, PayloadTooLarge

ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}
MAX_SOURCE_PIXELS = 40_000_000


def square_thumbnail(upload: UploadedFile, *, size_px: int, max_bytes: int) -> ContentFile[bytes]:
    """A `size_px` square PNG cut from the centre of `upload`, re-encoded so no EXIF, GPS or other metadata remains.

    Raises BadRequest for anything that is not a JPEG, PNG, WebP or GIF image, and PayloadTooLarge past `max_bytes`
    or past MAX_SOURCE_PIXELS (a decompression bomb)."""
    if upload.size is not None and upload.size > max_bytes:
        raise PayloadTooLarge(
            f"Images may be at most {max_bytes // (1024 * 1024)} MB.", code="image_too_large"
        )
    data = upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"Images may be at most {max_bytes // (1024 * 1024)} MB.", code="image_too_large"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                image_format = probe.format
                if probe.width * probe.height > MAX_SOURCE_PIXELS:
                    raise PayloadTooLarge("The image has too many pixels.", code="image_too_large")
                probe.verify()
            if image_format not in ACCEPTED_FORMATS:
                raise BadRequest("Use a JPEG, PNG, WebP or GIF image.", code="unsupported_image_format")
            with Image.open(io.BytesIO(data)) as image:
                image.seek(0)
                upright = ImageOps.exif_transpose(image).convert("RGBA")
                thumbnail = ImageOps.fit(upright, (size_px, size_px), Image.Resampling.LANCZOS)
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
    ) as exc:
        raise BadRequest("The file is not a readable image.", code="invalid_image") from exc
    clean = Image.new("RGBA", thumbnail.size)
    clean.paste(
        thumbnail
    )  # a fresh image carries no info dict, so nothing of the original's metadata survives
    output = io.BytesIO()
    clean.save(output, format="PNG", optimize=True)
    return ContentFile(output.getvalue(), name="avatar.png")
