"""Spreadsheet import and export: every bad row named with its reason, then all or nothing."""

import csv
import io
import re
from datetime import date

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from app.catalog import imports, jobs, market, queries, services, spreadsheets
from app.catalog.models import (
    ImportStatus,
    Listing,
    ListingImportRow,
    ListingStatus,
    StockMovement,
)
from app.catalog.services import expiry
from app.db import transaction, utcnow
from app.errors import Conflict, RuleViolation
from tests.factories import (
    BatchFactory,
    ListingFactory,
    OrganisationFactory,
    UserFactory,
    member,
)
from tests.helpers import post_form, sign_in

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
        session, viewer_kind=None, now=utcnow(), q="翠芽", with_facets=False, as_rows=True
    ).page.items
    assert [listing["product"] for listing in found] == ["meitan_cuiya"]


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

    bad = {row.row_number: row.errors for row in queries.bad_rows(session, job.id)}
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

    [row] = queries.preview_rows(session, job.id)
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
    exported = list(spreadsheets.export_rows(queries.all_seller_listings(session, seller.id)))
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
        new_row[[column.key for column in spreadsheets.COLUMNS].index(key)] = value
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


def test_importing_an_export_back_changes_stock_only_by_what_the_file_changed(session):
    seller, clerk = OrganisationFactory(), UserFactory()
    cuiya = ListingFactory(seller=seller, quantity=50)
    cabbage = ListingFactory(seller=seller, product_code="chinese_cabbage", quantity=40)
    exported = list(spreadsheets.export_rows(queries.all_seller_listings(session, seller.id)))
    header, *rows = exported
    quantity = header.index("库存 (quantity)")
    cuiya_row, cabbage_row = sorted(rows, key=lambda row: row[0] != cuiya.id)
    cabbage_row[quantity] = 45  # the seller adds 5 in the file
    for listing, change in ((cuiya, -30), (cabbage, -38)):  # meanwhile, buyers take stock
        services.adjust_stock(
            session,
            organisation_id=seller.id,
            actor_id=clerk.id,
            listing_id=listing.id,
            change=change,
            reason="卖出",
        )

    job, _seller, actor = imported(
        session, as_csv([cuiya_row, cabbage_row], header=header), seller=seller
    )
    imports.apply_import(session, organisation_id=seller.id, actor_id=actor.id, import_id=job.id)

    session.refresh(cuiya)
    session.refresh(cabbage)
    assert (cuiya.quantity, cabbage.quantity) == (20, 7)


def test_a_file_taking_away_more_than_is_left_imports_nothing(session):
    seller, clerk = OrganisationFactory(), UserFactory()
    cuiya = ListingFactory(seller=seller, quantity=50, price_fen=68000)
    header, row = spreadsheets.export_rows(queries.all_seller_listings(session, seller.id))
    row[header.index("库存 (quantity)")] = 10
    row[header.index("单价（元） (price_yuan)")] = "700"
    services.adjust_stock(
        session,
        organisation_id=seller.id,
        actor_id=clerk.id,
        listing_id=cuiya.id,
        change=-45,
        reason="卖出",
    )
    job, _seller, actor = imported(session, as_csv([row], header=header), seller=seller)

    with pytest.raises(Conflict, match="5"), session.begin_nested():
        imports.apply_import(
            session, organisation_id=seller.id, actor_id=actor.id, import_id=job.id
        )

    session.refresh(cuiya)
    assert (cuiya.quantity, cuiya.price_fen) == (5, 68000)


def test_a_row_naming_another_sellers_listing_is_refused(session):
    theirs = ListingFactory()
    data = as_csv(
        [[str(theirs.id), "meitan_cuiya", "一级", "", "1", "1"]],
        header=["编号 (id)", *HEADER[:2], HEADER[2], HEADER[3], HEADER[4]],
    )
    job, _seller, _actor = imported(session, data)
    [bad] = queries.bad_rows(session, job.id)
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
    broken = queries.preview_rows(session, job.id)[1]
    broken.values = {**broken.values, "quantity": -1}  # as if the row changed after its check
    session.flush()

    with app.app_context(), pytest.raises(IntegrityError), transaction() as write:
        imports.apply_import(write, organisation_id=seller.id, actor_id=actor.id, import_id=job.id)

    assert session.scalars(select(Listing)).all() == []


def snapshot(listing: Listing) -> dict:
    return {column.key: getattr(listing, column.key) for column in Listing.__table__.columns}


@pytest.mark.parametrize("write", [spreadsheets.to_csv, spreadsheets.to_xlsx])
def test_an_export_of_sold_out_and_expired_listings_imports_back_without_changing_them(
    session, write
):
    seller = OrganisationFactory()
    sold_out = ListingFactory(seller=seller, quantity=0, status=ListingStatus.sold_out)
    made, keeps = date(2024, 4, 1), 30
    expired = ListingFactory(
        seller=seller,
        production_date=made,
        shelf_life_days=keeps,
        expires_at=expiry(made, keeps),
        status=ListingStatus.expired,
    )
    session.expire_all()
    before = [snapshot(listing) for listing in (sold_out, expired)]
    movements = session.scalar(select(func.count()).select_from(StockMovement))
    exported = write(spreadsheets.export_rows(queries.all_seller_listings(session, seller.id)))

    job, _seller, actor = imported(session, exported, seller=seller)
    imports.apply_import(session, organisation_id=seller.id, actor_id=actor.id, import_id=job.id)

    session.expire_all()
    assert (job.created_count, job.updated_count) == (0, 2)
    assert [snapshot(listing) for listing in (sold_out, expired)] == before
    assert (sold_out.status, expired.status) == (ListingStatus.sold_out, ListingStatus.expired)
    assert session.scalar(select(func.count()).select_from(StockMovement)) == movements


def test_a_new_listing_cannot_be_imported_as_sold_out_or_expired(session):
    rows = [
        ["potato", "一级", "", "3", "0", "1", "否", "", "", "", "sold_out"],
        ["potato", "一级", "", "3", "10", "1", "否", "", "", "", "expired"],
    ]
    job, _seller, _actor = imported(session, as_csv(rows, header=[*HEADER, "状态 (status)"]))

    bad = queries.bad_rows(session, job.id)
    assert [(row.row_number, list(row.errors)) for row in bad] == [(2, ["status"]), (3, ["status"])]
    assert "active, paused or draft" in bad[0].errors["status"] or "草稿" in bad[0].errors["status"]


def test_a_row_putting_produce_past_its_shelf_life_on_sale_gets_the_listing_forms_message(session):
    seller, actor = OrganisationFactory(), UserFactory()
    paused = ListingFactory(seller=seller, status=ListingStatus.paused)
    with pytest.raises(RuleViolation) as form, session.begin_nested():
        services.create_listing(
            session,
            organisation_id=seller.id,
            actor_id=actor.id,
            product="meitan_cuiya",
            grade="一级",
            price_fen=68000,
            quantity=80,
            production_date=date(2024, 4, 1),
            shelf_life_days=30,
        )
    header = ["编号 (id)", *HEADER, "状态 (status)"]
    stale = ["meitan_cuiya", "一级", "", "680", "80", "2", "否", "", "2024-04-01", "30", "active"]
    job, _seller, _actor = imported(
        session, as_csv([["", *stale], [str(paused.id), *stale]], header=header), seller=seller
    )

    bad = queries.bad_rows(session, job.id)
    assert [row.errors for row in bad] == [{form.value.field: form.value.message}] * 2
    assert job.status == ImportStatus.invalid


@pytest.mark.parametrize(
    "content",
    [
        "potato,一级,\x00,3,100".encode(),  # a NUL, as in a UTF-16 file read as UTF-8
        f'potato,一级,"{"x" * 200_000}",3,100'.encode(),  # past the csv module's field limit
    ],
    ids=["nul-byte", "huge-field"],
)
def test_a_malformed_csv_is_refused_on_the_file_field(client, session, content):
    seller = member()
    sign_in(client, seller.user, seller.organisation, language="en")
    data = as_csv([]) + content + b"\r\n"

    response = post_form(
        client,
        "/selling/import",
        {"file": (io.BytesIO(data), "listings.csv")},
        content_type="multipart/form-data",
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'class="field invalid">\s*<label for="f-file"', page)
    assert "Line 2 of this CSV file cannot be read" in page


def test_a_file_over_the_row_limit_is_refused_with_the_limit_before_the_rest_is_read(session):
    rows = [["potato", "一级", "", "3", "100"]] * (imports.MAX_ROWS + 1)
    unreadable = ["potato", "一级", "x" * 200_000, "3", "100"]  # never reached

    with pytest.raises(RuleViolation) as refused:
        imports.start_import(
            session,
            organisation_id=OrganisationFactory().id,
            actor_id=UserFactory().id,
            filename="huge.csv",
            data=as_csv([*rows, unreadable], header=HEADER[:5]),
        )

    assert refused.value.field == "file"
    assert str(imports.MAX_ROWS) in refused.value.message


def test_a_row_the_checker_trips_over_is_named_and_the_other_rows_are_still_checked(
    session, monkeypatch, caplog
):
    check_one = imports._values

    def tripping(session, references, organisation_id, typed, now):
        if typed["quantity"] == 13:
            raise ZeroDivisionError("a fault in the checker")
        return check_one(session, references, organisation_id, typed, now)

    monkeypatch.setattr(imports, "_values", tripping)
    rows = [["potato", "一级", "", "3", str(quantity)] for quantity in (12, 13, 14)]

    job, _seller, _actor = imported(session, as_csv(rows, header=HEADER[:5]))

    assert (job.status, job.checked_rows, job.bad_rows) == (ImportStatus.invalid, 3, 1)
    [bad] = queries.bad_rows(session, job.id)
    assert (bad.row_number, list(bad.errors)) == (3, ["row"])
    checked = {row.row_number: row.values for row in queries.preview_rows(session, job.id)}
    assert checked[2]["quantity"] == 12 and checked[4]["quantity"] == 14
    [logged] = [record for record in caplog.records if record.exc_info]
    assert "row 3" in logged.getMessage()


def test_the_job_goes_on_checking_other_imports_when_one_crashes(app, session, monkeypatch, caplog):
    seller, actor = OrganisationFactory(), UserFactory()
    data = as_csv([["potato", "一级", "", "3", "100"]], header=HEADER[:5])
    first, second = (
        imports.start_import(
            session, organisation_id=seller.id, actor_id=actor.id, filename=name, data=data
        )
        for name in ("first.csv", "second.csv")
    )
    check_rows = imports.check_rows

    def crashing(session, *, import_id, **kwargs):
        if import_id == first.id:
            raise RuntimeError("a fault in the checker")
        return check_rows(session, import_id=import_id, **kwargs)

    monkeypatch.setattr(imports, "check_rows", crashing)

    with app.app_context():
        counts = jobs.check_imports()

    session.expire_all()
    assert (first.status, second.status) == (ImportStatus.failed, ImportStatus.ready)
    assert counts == {"chunks": 1, "failed": 1}
    assert any(str(first.id) in record.getMessage() for record in caplog.records if record.exc_info)


def test_an_import_the_database_was_too_busy_to_check_waits_for_the_next_run(
    app, session, monkeypatch
):
    job = imports.start_import(
        session,
        organisation_id=OrganisationFactory().id,
        actor_id=UserFactory().id,
        filename="listings.csv",
        data=as_csv([["potato", "一级", "", "3", "100"]], header=HEADER[:5]),
    )

    def busy(session, **kwargs):
        raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))

    monkeypatch.setattr(imports, "check_rows", busy)

    with app.app_context():
        counts = jobs.check_imports()

    session.expire_all()
    assert job.status == ImportStatus.checking and counts["failed"] == 1


@pytest.mark.parametrize(
    "price", ["1e999999", "NaN", "Infinity", "-Infinity", "sNaN", "12.345", "1e-999999", "¥"]
)
def test_a_price_cell_that_is_no_price_is_a_row_error(session, price):
    rows = [["potato", "一级", "", "3", "100"], ["potato", "一级", "", price, "100"]]

    job, _seller, _actor = imported(session, as_csv(rows, header=HEADER[:5]))

    [bad] = queries.bad_rows(session, job.id)
    assert (bad.row_number, list(bad.errors)) == (3, ["price_yuan"])


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("id", "9" * 30),
        ("quantity", "1e999999"),
        ("min_order", "9" * 5000),
        ("production_date", "9999-12-31"),
    ],
)
def test_a_number_or_date_no_listing_could_have_is_a_row_error(session, key, value):
    typed = {"product": "potato", "grade": "一级", "price_yuan": "3", "quantity": "100"}
    typed.update({"shelf_life_days": "3650", key: value})

    job, _seller, _actor = imported(session, as_csv([list(typed.values())], header=list(typed)))

    [bad] = queries.bad_rows(session, job.id)
    assert list(bad.errors) == [key]
