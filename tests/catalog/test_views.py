import io
import re

import pytest
import segno
from PIL import Image
from sqlalchemy import func, select

from app import events
from app.auth import OrgKind, Role
from app.catalog.models import Batch, Listing, ListingStatus, visibility_mask
from app.uploads import Upload
from tests.catalog.test_imports import as_csv
from tests.catalog.test_uploads import jpeg_with_gps
from tests.factories import (
    BatchFactory,
    BatchInputFactory,
    ListingFactory,
    TestReportFactory,
    member,
)
from tests.helpers import post_form, sign_in


@pytest.fixture
def uploads(app, tmp_path):
    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    yield tmp_path
    app.config["UPLOAD_FOLDER"] = ""


def test_a_cooperative_manager_records_a_batch_and_lists_cuiya_with_a_photo(
    client, session, uploads
):
    manager = member(kind=OrgKind.cooperative, role=Role.manager)
    sign_in(client, manager.user, manager.organisation)

    recorded = post_form(
        client,
        "/selling/batches/new",
        {
            "product": "meitan_cuiya",
            "harvest_date": "2026-04-05",
            "farm": "龙凤村田家沟茶园",
            "town": "兴隆镇",
            "village": "龙凤村",
            "processing": "摊青\n杀青",
        },
    )
    code = session.scalar(select(Batch.code))
    post_form(
        client,
        f"/selling/batches/{code}/tests",
        {
            "lab": "遵义市农产品质量安全检测中心",
            "tested_on": "2026-04-06",
            "result": "passed",
            "report": (io.BytesIO(b"%PDF-1.7 report"), "检测报告.pdf"),
        },
        content_type="multipart/form-data",
    )
    listed = post_form(
        client,
        "/selling/listings/new",
        {
            "product": "meitan_cuiya",
            "grade": "first",
            "batch": code,
            "price_fen": "680.00",
            "quantity": "80",
            "min_order": "2",
            "unit": "kg",
            "publish": "true",
            "photos": (io.BytesIO(jpeg_with_gps()), "翠芽.jpg"),
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )

    assert recorded.status_code == 302
    assert listed.status_code == 200
    listing = session.scalar(select(Listing))
    assert (listing.price_fen, listing.status, len(listing.photos)) == (
        68000,
        ListingStatus.active,
        1,
    )
    market = client.get("/market?q=翠芽").get_data(as_text=True)
    assert "湄潭翠芽 一级" in market and "/files/" in market


def test_a_price_in_the_form_is_checked_and_nothing_is_saved_when_a_photo_is_not_an_image(
    client, session, uploads
):
    seller = member()
    sign_in(client, seller.user, seller.organisation)
    form = {"product": "meitan_cuiya", "grade": "first", "quantity": "10", "unit": "kg"}
    good_then_bad = [
        (io.BytesIO(jpeg_with_gps((400, 300))), "tea.jpg"),
        (io.BytesIO(b"<html>"), "tea2.jpg"),
    ]

    negative = post_form(client, "/selling/listings/new", {**form, "price_fen": "-5"})
    not_a_photo = post_form(
        client,
        "/selling/listings/new",
        {**form, "price_fen": "680", "photos": good_then_bad},
        content_type="multipart/form-data",
    )

    assert negative.status_code == 422 and 'id="e-price_fen"' in negative.get_data(as_text=True)
    assert not_a_photo.status_code == 422 and "JPEG" in not_a_photo.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Listing)) == 0
    assert session.scalar(select(func.count()).select_from(Upload)) == 0
    assert [path for path in uploads.rglob("*") if path.is_file()] == []  # the good photo too


def test_a_report_for_another_sellers_batch_is_refused_and_not_kept(client, session, uploads):
    batch = BatchFactory()
    stranger = member()
    sign_in(client, stranger.user, stranger.organisation)

    refused = post_form(
        client,
        f"/selling/batches/{batch.code}/tests",
        {
            "lab": "x",
            "tested_on": str(batch.harvest_date),
            "result": "passed",
            "report": (io.BytesIO(b"%PDF-1.7 report"), "report.pdf"),
        },
        content_type="multipart/form-data",
    )

    assert refused.status_code == 403
    assert batch.tests == []
    assert [path for path in uploads.rglob("*") if path.is_file()] == []


def test_a_school_buyer_searches_narrows_and_sees_what_is_only_for_schools(client, session):
    ListingFactory(title="湄潭翠芽 一级", product_code="meitan_cuiya", grade_code="first")
    ListingFactory(title="湄潭翠芽 特级", product_code="meitan_cuiya", grade_code="special")
    ListingFactory(title="学校专供 大白菜", product_code="chinese_cabbage", visible_to=2)
    school = member(kind=OrgKind.school)

    anonymous = client.get("/market?q=大白菜").get_data(as_text=True)
    sign_in(client, school.user, school.organisation)
    for_school = client.get("/market?q=大白菜").get_data(as_text=True)
    narrowed = client.get("/market?q=翠芽&grade=special").get_data(as_text=True)

    assert "学校专供 大白菜" not in anonymous and "学校专供 大白菜" in for_school
    assert "湄潭翠芽 特级" in narrowed and "湄潭翠芽 一级" not in narrowed
    assert "一级 (1)" in client.get("/market?q=翠芽").get_data(
        as_text=True
    )  # the grade facet counts


def test_a_search_that_finds_nothing_says_what_to_try(client, session):
    page = client.get("/market?q=榴莲").get_data(as_text=True)
    assert "没有匹配的商品" in page


def test_anyone_scanning_the_label_sees_origin_tests_inputs_and_custody(client, session):
    batch = BatchFactory(
        code="LF-CY-2026-01", farm="龙凤村田家沟茶园", zone="兴隆坝区", village="龙凤村"
    )
    BatchInputFactory(batch=batch, name="菜籽饼有机肥")
    TestReportFactory(batch=batch, summary="农药残留 42 项未检出")
    ListingFactory(batch=batch, title="湄潭翠芽 一级", commitment_certificate="520328-2026-0412")

    page = client.get("/t/lf-cy-2026-01").get_data(as_text=True)

    for shown in (
        "龙凤村田家沟茶园",
        "兴隆坝区",
        "菜籽饼有机肥",
        "农药残留 42 项未检出",
        "检测全部合格",
        "520328-2026-0412",
        "湄潭翠芽 一级",
    ):
        assert shown in page, shown
    assert "尚未被订单或配送流转" in page


def test_the_trace_page_names_only_the_listings_offered_to_whoever_scans_it(client, session):
    batch = BatchFactory(code="LF-CY-2026-02")
    for_schools = ListingFactory(
        batch=batch, title="学校专供翠芽", organic=True, visible_to=visibility_mask(["school"])
    )
    ListingFactory(batch=batch, title="草稿翠芽", status=ListingStatus.draft, green_food=True)
    events.record(
        session,
        "listing.published",
        organisation_id=batch.organisation_id,
        subject=f"listing:{for_schools.id}",
        payload={"title": for_schools.title},
    )
    session.flush()

    anyone = client.get("/t/LF-CY-2026-02").get_data(as_text=True)
    school = member(kind=OrgKind.school)
    sign_in(client, school.user, school.organisation)
    a_school = client.get("/t/LF-CY-2026-02").get_data(as_text=True)

    assert "学校专供翠芽" not in anyone and "已面向指定买家上架" in anyone
    assert "有机" in anyone  # what the producer declares of the batch is for everyone
    assert "绿色食品" not in anyone and "草稿翠芽" not in anyone  # a draft was never offered
    assert a_school.count("学校专供翠芽") == 2  # in the chain of custody and on sale


def test_an_unknown_trace_code_is_a_clear_404(client, session):
    response = client.get("/t/NOPE-1")
    assert response.status_code == 404
    assert "NOPE-1" in response.get_data(as_text=True)


def test_qr_codes_lead_to_the_trace_page_and_labels_print_twelve_to_a_page(client, session):
    BatchFactory(code="LF-CY-2026-01")

    png = client.get("/t/LF-CY-2026-01/qr.png")
    svg = client.get("/t/LF-CY-2026-01/qr.svg")
    labels = client.get("/t/LF-CY-2026-01/label").get_data(as_text=True)

    assert (
        png.mimetype == "image/png"
        and qr_modules(png.data) == segno.make("http://localhost/t/LF-CY-2026-01", error="m").matrix
    )
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    assert labels.count('class="label"') == 12


def test_a_seller_pauses_a_listing_and_adjusts_its_stock_and_sees_the_history(client, session):
    seller = member()
    listing = ListingFactory(seller=seller.organisation, quantity=50)
    sign_in(client, seller.user, seller.organisation)

    post_form(
        client, f"/selling/listings/{listing.id}/stock", {"change": "-3", "reason": "运输挤压损耗"}
    )
    post_form(client, f"/selling/listings/{listing.id}/pause")
    page = client.get(f"/selling/listings/{listing.id}").get_data(as_text=True)

    session.refresh(listing)
    assert (listing.quantity, listing.status) == (47, ListingStatus.paused)
    history = page[page.index("历史记录") :]
    assert "运输挤压损耗" in page and "-3" in page
    assert re.search(rf"已暂停</td>\s*<td>{seller.user.name}</td>", history)
    assert "库存变更" in history and "listing." not in history


def test_a_removed_photo_is_gone_for_good_and_the_next_one_leads(client, session, uploads):
    seller = member()
    listing = ListingFactory(seller=seller.organisation)
    sign_in(client, seller.user, seller.organisation)
    post_form(
        client,
        f"/selling/listings/{listing.id}/photos",
        {
            "photos": [
                (io.BytesIO(jpeg_with_gps((400, 300))), "first.jpg"),
                (io.BytesIO(jpeg_with_gps((300, 400))), "second.jpg"),
            ]
        },
        content_type="multipart/form-data",
    )
    session.refresh(listing)
    first, second = listing.photos
    gone = f"/files/{first.upload.token}"

    post_form(client, f"/selling/listings/{listing.id}/photos/{first.id}/remove")

    session.expire_all()
    assert [(photo.id, photo.position) for photo in listing.photos] == [(second.id, 0)]
    assert client.get(gone).status_code == 404
    assert len([path for path in uploads.rglob("*") if path.is_file()]) == 1
    assert session.scalar(select(func.count()).select_from(Upload)) == 1


def test_another_sellers_listing_page_is_refused(client, session):
    seller = member()
    sign_in(client, seller.user, seller.organisation)
    assert client.get(f"/selling/listings/{ListingFactory().id}").status_code == 403


def test_an_import_names_its_bad_rows_then_a_fixed_file_imports_all_at_once(client, session):
    seller = member()
    sign_in(client, seller.user, seller.organisation)
    good = ["meitan_cuiya", "一级", "", "680", "80", "2", "否", "", "", ""]

    first = post_form(
        client,
        "/selling/import",
        {
            "file": (
                io.BytesIO(
                    as_csv([good, ["meitan_cuiya", "一级", "", "-1", "80", "2", "否", "", "", ""]])
                ),
                "listings.csv",
            )
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    ).get_data(as_text=True)
    second = post_form(
        client,
        "/selling/import",
        {"file": (io.BytesIO(as_csv([good, good])), "listings.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    ).get_data(as_text=True)
    import_id = re.search(r"/selling/import/(\d+)/apply", second).group(1)
    applied = post_form(client, f"/selling/import/{import_id}/apply", follow_redirects=True)

    assert "2 行中有 1 行需要更正" in first and "单价（元） (price_yuan)" in first
    assert "导入全部 2 条商品" in second
    assert "新增 2 条" in applied.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Listing)) == 2


def test_an_upload_that_is_not_a_spreadsheet_is_refused_on_the_file_field(client, session):
    seller = member()
    sign_in(client, seller.user, seller.organisation)
    response = post_form(
        client,
        "/selling/import",
        {"file": (io.BytesIO(b"PK\x03\x04 not really"), "x.xlsx")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "Excel" in response.get_data(as_text=True)


def test_export_downloads_every_listing_in_the_import_columns(client, session):
    seller = member()
    ListingFactory(seller=seller.organisation, title="湄潭翠芽 一级")
    sign_in(client, seller.user, seller.organisation)

    exported = client.get("/selling/export.csv")
    workbook = client.get("/selling/export.xlsx")

    text = exported.data.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("编号 (id),产品编码 (product)")
    assert "湄潭翠芽 一级" in text
    assert workbook.data[:2] == b"PK" and "attachment" in workbook.headers["Content-Disposition"]


def test_a_sellers_dashboard_counts_what_is_on_sale(client, session):
    seller = member()
    ListingFactory(seller=seller.organisation)
    ListingFactory(seller=seller.organisation, status="paused")
    sign_in(client, seller.user, seller.organisation)

    page = client.get("/dashboard").get_data(as_text=True)

    assert re.search(r'<h3>在售</h3>\s*<div class="figure">1</div>', page)
    assert "暂停 1 条" in page


def qr_modules(png: bytes, *, scale: int = 8, border: int = 2) -> tuple:
    """The dark (1) and light (0) modules a printed QR code shows, read off its pixels."""
    with Image.open(io.BytesIO(png)) as image:
        pixels = image.convert("L")
        size = image.width // scale - 2 * border
        return tuple(
            bytearray(
                int(pixels.getpixel(((col + border) * scale + 4, (row + border) * scale + 4)) < 128)
                for col in range(size)
            )
            for row in range(size)
        )
