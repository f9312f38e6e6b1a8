"""Uploads: checked for what they really are, cleaned, kept outside the code, served so they cannot run."""

import io
from pathlib import Path

import pytest
from PIL import Image

from app import ROOT
from app.errors import RuleViolation
from app.uploads import PHOTO_LIMIT, UploadKind, store_upload, upload_folder
from tests.factories import OrganisationFactory


def jpeg_with_gps(size=(3000, 2000)) -> bytes:
    image = Image.new("RGB", size, (40, 120, 60))
    exif = Image.Exif()
    exif[0x8825] = {2: (27, 45, 0), 4: (107, 28, 0)}  # GPSInfo: where the phone was
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def test_a_photo_is_re_encoded_without_its_location_and_kept_outside_the_code(session, tmp_path):
    upload = store_upload(
        session,
        organisation_id=OrganisationFactory().id,
        kind=UploadKind.photo,
        filename="../../etc/茶园.jpg",
        data=jpeg_with_gps(),
        folder=tmp_path,
    )

    stored = tmp_path / upload.token[:2] / upload.token
    with Image.open(stored) as image:
        assert max(image.size) == 2000
        assert 0x8825 not in image.getexif()
    assert upload.content_type == "image/jpeg"
    assert upload.original_name == "茶园.jpg"


def test_uploads_are_kept_in_the_instance_folder_not_beside_the_code(app):
    with app.app_context():
        folder = upload_folder()
    assert folder == Path(app.instance_path) / "uploads"
    assert not any(folder.is_relative_to(ROOT / part) for part in ("app", "templates", "static"))


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7 pretending to be a photo",
        b"<script>alert(1)</script>",
        b"\x89PNG\r\n\x1a\n broken",
    ],
)
def test_what_is_not_a_photo_is_refused_on_its_field(session, tmp_path, data):
    with pytest.raises(RuleViolation) as refused:
        store_upload(
            session,
            organisation_id=OrganisationFactory().id,
            kind=UploadKind.photo,
            filename="x.jpg",
            data=data,
            folder=tmp_path,
            field="photos",
        )
    assert refused.value.field == "photos"
    assert list(tmp_path.iterdir()) == []


def test_a_file_over_the_limit_is_refused_before_it_is_read(session, tmp_path):
    with pytest.raises(RuleViolation, match="5 MB"):
        store_upload(
            session,
            organisation_id=OrganisationFactory().id,
            kind=UploadKind.photo,
            filename="x.jpg",
            data=b"0" * (PHOTO_LIMIT + 1),
            folder=tmp_path,
        )


def test_a_report_may_be_a_pdf_or_a_photo_but_not_a_web_page(session, tmp_path):
    organisation_id = OrganisationFactory().id
    pdf = store_upload(
        session,
        organisation_id=organisation_id,
        kind=UploadKind.document,
        filename="报告.pdf",
        data=b"%PDF-1.7\n...",
        folder=tmp_path,
    )
    photo = store_upload(
        session,
        organisation_id=organisation_id,
        kind=UploadKind.document,
        filename="报告.jpg",
        data=jpeg_with_gps((400, 300)),
        folder=tmp_path,
    )
    with pytest.raises(RuleViolation):
        store_upload(
            session,
            organisation_id=organisation_id,
            kind=UploadKind.document,
            filename="x.html",
            data=b"<html><script>1</script>",
            folder=tmp_path,
        )
    assert (pdf.content_type, photo.content_type) == ("application/pdf", "image/jpeg")


def test_a_photo_taken_sideways_is_stored_upright(session, tmp_path):
    sideways = Image.new("RGB", (300, 200), (40, 120, 60))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the camera was turned; show it rotated 90° clockwise
    buffer = io.BytesIO()
    sideways.save(buffer, "JPEG", exif=exif)

    upload = store_upload(
        session,
        organisation_id=OrganisationFactory().id,
        kind=UploadKind.photo,
        filename="x.jpg",
        data=buffer.getvalue(),
        folder=tmp_path,
    )

    with Image.open(tmp_path / upload.token[:2] / upload.token) as stored:
        assert stored.size == (200, 300)


def test_an_image_of_too_many_pixels_is_refused_without_decoding_it(session, tmp_path):
    buffer = io.BytesIO()
    Image.new("1", (10_000, 6_000)).save(
        buffer, "PNG"
    )  # a few kB that would decode to 60 megapixels

    with pytest.raises(RuleViolation, match="10000 × 6000"):
        store_upload(
            session,
            organisation_id=OrganisationFactory().id,
            kind=UploadKind.photo,
            filename="x.png",
            data=buffer.getvalue(),
            folder=tmp_path,
        )
    assert list(tmp_path.iterdir()) == []
