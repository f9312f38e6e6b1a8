"""Files people upload (listing photos, test reports): checked for type, size and content, kept outside the
code tree (UPLOAD_FOLDER, by default instance/uploads), and served with headers that stop a browser from
running anything in them.

Photos are decoded, turned upright and re-encoded, which drops hidden payloads and the GPS position a phone
writes into them; documents must really be PDFs. Each file is named by an unguessable token. A file is
written before its row is committed; if the transaction rolls back instead, the file is deleted, so a refused
request leaves nothing behind on disk either. A deleted upload's file goes once its deletion commits.
"""

import hashlib
import io
import os
import secrets
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from flask import Blueprint, abort, current_app, send_file
from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import ForeignKey, String, event, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.auth import PUBLIC, requires
from app.db import Base, get_session, utcnow
from app.errors import RuleViolation

MEGABYTE = 1024 * 1024
PHOTO_LIMIT = 5 * MEGABYTE
DOCUMENT_LIMIT = 10 * MEGABYTE
_PHOTO_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
_LONGEST_SIDE = 2000  # pixels: plenty for a listing photo, and it keeps pages quick on a phone
# A bigger image (a decompression bomb, or no phone's photo) is refused before it is decoded.
_MOST_PIXELS = 50_000_000
# session.info keys: files written in the session's open transaction, and files of uploads it deleted.
_WRITTEN = "uploads_written"
_DISCARDED = "uploads_discarded"


class UploadKind(StrEnum):
    photo = "photo"
    document = "document"


class Upload(Base):
    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(43), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    kind: Mapped[UploadKind]
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    original_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


def store_upload(
    session: Session,
    *,
    organisation_id: int,
    kind: UploadKind,
    filename: str,
    data: bytes,
    folder: Path,
    field: str = "file",
    now: datetime | None = None,
) -> Upload:
    """Check an uploaded file, keep a clean copy on disk, and record it. A photo of a test report is fine."""
    limit = PHOTO_LIMIT if kind == UploadKind.photo else DOCUMENT_LIMIT
    if len(data) > limit:
        raise RuleViolation(
            _(
                "The file is %(size).1f MB; the limit is %(limit)d MB.",
                size=len(data) / MEGABYTE,
                limit=limit // MEGABYTE,
            ),
            field=field,
        )
    if not data:
        raise RuleViolation(_("The file is empty."), field=field)
    if kind == UploadKind.document and data.startswith(b"%PDF-"):
        content, content_type = data, "application/pdf"
    else:
        content, content_type = _clean_image(data, field, kind)
    token = secrets.token_urlsafe(32)
    path = folder / token[:2] / token
    _write(path, content)
    session.info.setdefault(_WRITTEN, []).append(path)
    upload = Upload(
        token=token,
        organisation_id=organisation_id,
        kind=kind,
        content_type=content_type,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        original_name=os.path.basename(filename or "")[:200],
        created_at=now or utcnow(),
    )
    session.add(upload)
    return upload


def _clean_image(data: bytes, field: str, kind: UploadKind) -> tuple[bytes, str]:
    refusal = (
        _("This is not a photo we can use. Upload a JPEG, PNG or WebP image.")
        if kind == UploadKind.photo
        else _("Upload the report as a PDF, or as a JPEG, PNG or WebP photo of it.")
    )
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()  # checks the structure without decoding every pixel
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in _PHOTO_FORMATS:
                raise RuleViolation(refusal, field=field)
            width, height = image.size
            if width * height > _MOST_PIXELS:
                raise RuleViolation(
                    _(
                        "The photo is %(width)d × %(height)d pixels; that is too large.",
                        width=width,
                        height=height,
                    ),
                    field=field,
                )
            image.load()
            return _reencoded(ImageOps.exif_transpose(image))
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError) as error:
        raise RuleViolation(refusal, field=field) from error


def _reencoded(image: Image.Image) -> tuple[bytes, str]:
    """A fresh encoding of the pixels only: no metadata, no trailing bytes, at most 2000 px a side."""
    image.thumbnail((_LONGEST_SIDE, _LONGEST_SIDE))
    has_alpha = image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info)
    output = io.BytesIO()
    if has_alpha:
        image.convert("RGBA").save(output, "PNG", optimize=True)
        return output.getvalue(), "image/png"
    image.convert("RGB").save(output, "JPEG", quality=85, optimize=True)
    return output.getvalue(), "image/jpeg"


def _write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(content)
    partial.replace(path)  # readers never see half a file


def discard_upload(session: Session, upload: Upload, *, folder: Path) -> None:
    """Delete an upload: its row now, its file once the transaction commits (a rollback keeps both)."""
    session.delete(upload)
    session.info.setdefault(_DISCARDED, []).append(folder / upload.token[:2] / upload.token)


@event.listens_for(Session, "after_commit")
def _settle_files_of_committed_transaction(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the outer transaction decides
        return
    session.info.pop(_WRITTEN, None)
    for path in session.info.pop(_DISCARDED, ()):
        path.unlink(missing_ok=True)


@event.listens_for(Session, "after_transaction_end")
def _settle_files_of_rolled_back_transaction(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended without a commit
        session.info.pop(_DISCARDED, None)
        for path in session.info.pop(_WRITTEN, ()):
            path.unlink(missing_ok=True)


def upload_folder() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"] or Path(current_app.instance_path) / "uploads")


bp = Blueprint("files", __name__)


@bp.get("/files/<token>")
@requires(PUBLIC)
def serve(token: str):
    """Send an uploaded file so that it can be seen but never run."""
    upload = get_session().scalar(select(Upload).where(Upload.token == token))
    path = upload_folder() / token[:2] / token if upload else None
    if upload is None or not path.exists():
        abort(404)
    response = send_file(
        path,
        mimetype=upload.content_type,
        max_age=365 * 24 * 3600,
        as_attachment=not upload.is_image,
        download_name=upload.original_name or f"{token}.pdf",
    )
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
