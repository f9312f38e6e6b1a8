"""Spreadsheet import and export: every bad row named with its reason, then all or nothing."""

import csv
import io
from datetime import date

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.catalog import imports, market, queries
from app.catalog.models import ImportStatus, Listing, ListingImportRow, StockMovement
from app.db import transaction, utcnow
from app.errors import RuleViolation
from tests.factories import BatchFactory, ListingFactory, OrganisationFactory, UserFactory

HEADER = [
    "产品编码 (product)",
    "等级 (grade)",
    "批次号 (batch)",
    "单价（元） (price_yuan)",
    "库存 (quantity)",
    "起订量 (min_order)",
    "有机 (organic)",
    "可见范围 (visible_to)",
    "生产日期 (production_date)",
    "保质期（天） (shelf_life_days)",
]


def as_csv(rows, header=HEADER, encoding="utf-8-sig") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def as_xlsx(rows, header=HEADER) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def imported(session, data: bytes, *, filename="listings.csv", seller=None):
    seller, actor = seller or OrganisationFactory(), UserFactory()
    job = imports.start_import(
        session, organisation_id=seller.id, actor_id=actor.id, filename=filename, data=data
    )
    while not imports.check_rows(session, import_id=job.id):
        pass
    return job, seller, actor


def test_a_clean_file_is_checked_then_imported_in_one_go_and_can_be_found(session):
    job, seller, actor = imported(
        session,
        as_csv(
            [
                ["meitan_cuiya", "一级", "", "680", "80", "2", "否", "", "2026-04-02", "540"],
                ["chinese_cabbage", "first", "", "2.40", "2000", "50", "是", "学校,超市", "", ""],
            ]
        ),
    )
    assert (job.status, job.total_rows, job.bad_rows) == (ImportStatus.ready, 2, 0)

    done = imports.apply_import(
        session, organisation_id=seller.id, actor_id=actor.id, import_id=job.id
    )

    assert (done.status, done.created_count) == (ImportStatus.done, 2)
    listings = {listing.product.code: listing for listing in session.scalars(select(Listing))}
    assert (
        listings["meitan_cuiya"].price_fen == 68000
        and listings["meitan_cuiya"].title == "湄潭翠芽 一级"
    )
    assert listings["chinese_cabbage"].organic and listings["chinese_cabbage"].visible_to == 3
    assert session.scalar(select(func.count()).select_from(StockMovement)) == 2
    found = market.browse(
        session, viewer_kind=None, now=utcnow(), q="翠芽", with_facets=False
    ).page.items
    assert [listing.product.code for listing in found] == ["meitan_cuiya"]


def test_every_bad_row_is_named_with_its_reason_and_nothing_is_imported(session):
    seller = OrganisationFactory()
    someone_elses = BatchFactory()
    job, _seller, actor = imported(
        session,
        as_csv(
            [
                ["meitan_cuiya", "一级", "", "680", "80", "2", "否", "", "", ""],
                ["meitan_cuiya", "一级", "", "-5", "80", "2", "否", "", "", ""],
                ["no_such_tea", "一级", "", "680", "80", "2", "否", "", "", ""],
                ["meitan_rice", "特级", "", "180", "80", "2", "否", "", "", ""],
                ["meitan_cuiya", "一级", someone_elses.code, "680", "80", "2", "否", "", "", ""],
                ["meitan_cuiya", "一级", "", "680", "80", "0", "也许", "", "4/2/2026", ""],
            ]
        ),
        seller=seller,
    )

    bad = {row.row_number: row.errors for row in imports.bad_rows(session, job.id)}
    assert job.status == ImportStatus.invalid and job.bad_rows == 5
    assert list(bad) == [3, 4, 5, 6, 7]
    assert "price_yuan" in bad[3]
    assert "no_such_tea" in bad[4]["product"]
    assert "一等" in bad[5]["grade"]
    assert someone_elses.code in bad[6]["batch"]
    assert set(bad[7]) == {"min_order", "organic", "production_date"}
    with pytest.raises(RuleViolation):
        imports.apply_import(
            session, organisation_id=seller.id, actor_id=actor.id, import_id=job.id
        )
    assert session.scalars(select(Listing)).all() == []


def test_an_excel_file_with_dates_and_numbers_in_cells_is_read_like_a_csv(session):
    job, _seller, _actor = imported(
        session,
        as_xlsx(
            [
                ["zunyi_hong", "first", None, 560.0, 60, 1, "否", None, date(2026, 5, 1), 730],
            ]
        ),
        filename="listings.xlsx",
    )

    [row] = imports.preview_rows(session, job.id)
    assert job.status == ImportStatus.ready
    assert row.values["price_fen"] == 56000 and row.values["production_date"] == "2026-05-01"


def test_a_csv_saved_by_chinese_excel_in_gb18030_is_read(session):
    job, _seller, _actor = imported(
        session,
        as_csv([["potato", "一级", "", "3", "100", "10", "否", "", "", ""]], encoding="gb18030"),
    )
    assert job.status == ImportStatus.ready


def test_a_file_without_the_needed_columns_is_refused_at_once(session):
    with pytest.raises(RuleViolation) as refused:
        imports.start_import(
            session,
            organisation_id=OrganisationFactory().id,
            actor_id=UserFactory().id,
            filename="x.csv",
            data=as_csv([["meitan_cuiya"]], header=["产品编码 (product)"]),
        )
    assert refused.value.field == "file"
    assert "price_yuan" in refused.value.message


def test_export_then_import_updates_the_listings_it_names(session):
    seller = OrganisationFactory()
    cuiya = ListingFactory(seller=seller, price_fen=68000, quantity=50)
    exported = list(imports.export_rows(queries.all_seller_listings(session, seller.id)))
    header, row = exported
    row[header.index("单价（元） (price_yuan)")] = "720.00"
    row[header.index("库存 (quantity)")] = 45
    new_row = [""] * len(header)
    for key, value in {
        "product": "potato",
        "grade": "一级",
        "price_yuan": "3",
        "quantity": "500",
    }.items():
        new_row[[column.key for column in imports.COLUMNS].index(key)] = value
    data = as_csv([row, new_row], header=header)

    job, _seller, actor = imported(session, data, seller=seller)
    imports.apply_import(session, organisation_id=seller.id, actor_id=actor.id, import_id=job.id)

    session.refresh(cuiya)
    assert (cuiya.price_fen, cuiya.quantity) == (72000, 45)
    assert (job.created_count, job.updated_count) == (1, 1)
    last = session.scalars(
        select(StockMovement)
        .where(StockMovement.listing_id == cuiya.id)
        .order_by(StockMovement.id.desc())
    ).first()
    assert last.delta == -5


def test_a_row_naming_another_sellers_listing_is_refused(session):
    theirs = ListingFactory()
    data = as_csv(
        [[str(theirs.id), "meitan_cuiya", "一级", "", "1", "1"]],
        header=["编号 (id)", *HEADER[:2], HEADER[2], HEADER[3], HEADER[4]],
    )
    job, _seller, _actor = imported(session, data)
    [bad] = imports.bad_rows(session, job.id)
    assert "another seller" in bad.errors["row"] or "其他卖家" in bad.errors["row"]


def test_a_large_file_is_checked_chunk_by_chunk_so_progress_can_be_shown(session):
    seller, actor = OrganisationFactory(), UserFactory()
    rows = [["potato", "一级", "", "3", str(n + 1), "1", "否", "", "", ""] for n in range(1200)]
    job = imports.start_import(
        session, organisation_id=seller.id, actor_id=actor.id, filename="big.csv", data=as_csv(rows)
    )

    progress = []
    while not imports.check_rows(session, import_id=job.id, limit=500):
        progress.append(job.progress)

    assert progress == [42, 83]
    assert job.status == ImportStatus.ready and job.checked_rows == 1200
    imports.apply_import(session, organisation_id=seller.id, actor_id=actor.id, import_id=job.id)
    assert session.scalar(select(func.count()).select_from(Listing)) == 1200
    assert session.scalar(select(func.count()).select_from(ListingImportRow)) == 0


def test_an_import_that_fails_half_way_leaves_no_listing_behind(app, session):
    job, seller, actor = imported(
        session,
        as_csv(
            [
                ["potato", "一级", "", "3", "100", "1", "否", "", "", ""],
                ["tomato", "一级", "", "5", "100", "1", "否", "", "", ""],
            ]
        ),
    )
    broken = imports.preview_rows(session, job.id)[1]
    broken.values = {**broken.values, "quantity": -1}  # as if the row changed after its check
    session.flush()

    with app.app_context(), pytest.raises(IntegrityError), transaction() as write:
        imports.apply_import(write, organisation_id=seller.id, actor_id=actor.id, import_id=job.id)

    assert session.scalars(select(Listing)).all() == []
