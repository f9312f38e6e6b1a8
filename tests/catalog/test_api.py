import io

from sqlalchemy import func, select

from app.auth import OrgKind, Role, VerificationStatus
from app.catalog.models import Listing, ListingPhoto
from tests.catalog.test_uploads import jpeg_with_gps
from tests.factories import ApiTokenFactory, BatchFactory, ListingFactory, member
from tests.helpers import bearer

NEW_LISTING = {
    "product": "meitan_cuiya",
    "grade": "first",
    "price_fen": 68000,
    "quantity": 80,
    "min_order": 2,
}


def token(membership, secret="agl_catalog-test") -> dict[str, str]:
    ApiTokenFactory(user=membership.user, organisation_id=membership.organisation_id, secret=secret)
    return bearer(secret)


def test_a_seller_lists_by_api_and_buyers_find_it(client, session):
    seller = member(kind=OrgKind.cooperative, role=Role.manager)
    batch = BatchFactory(seller=seller.organisation)

    created = client.post(
        "/api/v1/listings", json={**NEW_LISTING, "batch": batch.code}, headers=token(seller)
    )
    found = client.get("/api/v1/listings?q=cuiya")

    assert created.status_code == 201
    assert created.get_json()["batch"] == batch.code and created.get_json()["status"] == "active"
    assert [item["id"] for item in found.get_json()["items"]] == [created.get_json()["id"]]


def test_the_listings_api_pages_and_counts_with_facets_when_asked(client, session):
    for price in range(10):
        ListingFactory(price_fen=1000 + price)

    plain = client.get("/api/v1/listings?size=4&sort=price_asc").get_json()
    counted = client.get("/api/v1/listings?size=4&page=3&facets=true").get_json()

    assert [item["price_fen"] for item in plain["items"]] == [1000, 1001, 1002, 1003]
    assert plain["has_more"] is True and plain["total"] is None and plain["facets"] is None
    assert counted["total"] == 10 and counted["has_more"] is False and len(counted["items"]) == 2
    assert counted["facets"]["categories"] == [["tea.green", 10]]


def test_bad_listings_are_refused_naming_the_field(client, session):
    seller = member()
    headers = token(seller)
    someone_elses = BatchFactory()
    cases = {
        "price_fen": {**NEW_LISTING, "price_fen": -100},
        "min_order": {**NEW_LISTING, "min_order": 0},
        "grade": {**NEW_LISTING, "product": "meitan_rice"},
        "batch": {**NEW_LISTING, "batch": someone_elses.code},
        "colour": {**NEW_LISTING, "colour": "green"},
        "production_date": {**NEW_LISTING, "production_date": "9999-12-31", "shelf_life_days": 30},
    }
    for field, body in cases.items():
        answer = client.post("/api/v1/listings", json=body, headers=headers)
        assert answer.status_code == 422, field
        assert list(answer.get_json()["fields"]) == [field]
    assert session.scalar(select(func.count()).select_from(Listing)) == 0


def test_a_seller_cannot_edit_another_sellers_listing(client, session):
    listing = ListingFactory(price_fen=68000)
    headers = token(member())

    answer = client.patch(f"/api/v1/listings/{listing.id}", json={"price_fen": 1}, headers=headers)
    empty = client.patch(f"/api/v1/listings/{listing.id}", json={}, headers=headers)

    assert (answer.status_code, empty.status_code) == (403, 403)
    assert listing.price_fen == 68000


def test_a_seller_pauses_and_reprices_a_listing(client, session):
    seller = member()
    listing = ListingFactory(seller=seller.organisation)

    answer = client.patch(
        f"/api/v1/listings/{listing.id}",
        json={"price_fen": 72000, "status": "paused"},
        headers=token(seller),
    )

    assert answer.status_code == 200
    assert answer.get_json()["price_fen"] == 72000 and answer.get_json()["status"] == "paused"
    assert client.get("/api/v1/listings").get_json()["items"] == []  # off the market for buyers
    assert (
        client.get(f"/api/v1/listings/{listing.id}").get_json()["status"] == "paused"
    )  # a link says so


def test_a_listing_for_schools_is_hidden_from_a_supermarkets_api_but_not_from_a_schools(
    client, session
):
    listing = ListingFactory(visible_to=2)
    school, supermarket = member(kind=OrgKind.school), member(kind=OrgKind.supermarket)

    assert (
        client.get(f"/api/v1/listings/{listing.id}", headers=token(school, "agl_s")).status_code
        == 200
    )
    assert (
        client.get(
            f"/api/v1/listings/{listing.id}", headers=token(supermarket, "agl_m")
        ).status_code
        == 404
    )
    assert client.get("/api/v1/listings", headers=bearer("agl_m")).get_json()["items"] == []
    assert len(client.get("/api/v1/listings", headers=bearer("agl_s")).get_json()["items"]) == 1


def test_a_cooperative_awaiting_verification_cannot_list_yet_and_is_told_why(client, session):
    waiting = member(status=VerificationStatus.pending)
    answer = client.post("/api/v1/listings", json=NEW_LISTING, headers=token(waiting))
    assert answer.status_code == 403
    assert "审核" in answer.get_json()["message"]


def test_a_buyer_cannot_list(client, session):
    answer = client.post(
        "/api/v1/listings", json=NEW_LISTING, headers=token(member(kind=OrgKind.school))
    )
    assert answer.status_code == 403


def test_stock_is_adjusted_with_a_reason_and_its_history_returned(client, session):
    seller = member()
    listing = ListingFactory(seller=seller.organisation, quantity=50)
    headers = token(seller)

    adjusted = client.post(
        f"/api/v1/listings/{listing.id}/stock",
        json={"change": -3, "reason": "损耗"},
        headers=headers,
    )
    too_many = client.post(
        f"/api/v1/listings/{listing.id}/stock",
        json={"change": -100, "reason": "x"},
        headers=headers,
    )
    history = client.get(f"/api/v1/listings/{listing.id}/stock", headers=headers).get_json()

    assert adjusted.get_json()["quantity"] == 47
    assert too_many.status_code == 422 and list(too_many.get_json()["fields"]) == ["change"]
    assert (history[0]["delta"], history[0]["reason"]) == (-3, "损耗")


def test_a_photo_must_be_an_image(client, session, app, tmp_path):
    seller = member()
    listing = ListingFactory(seller=seller.organisation)
    headers = token(seller)
    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    try:
        fake = client.post(
            f"/api/v1/listings/{listing.id}/photos",
            headers=headers,
            data={"photo": (io.BytesIO(b"%PDF-1.7 not a photo"), "tea.jpg")},
        )
        real = client.post(
            f"/api/v1/listings/{listing.id}/photos",
            headers=headers,
            data={"photo": (io.BytesIO(jpeg_with_gps((800, 600))), "tea.jpg")},
        )
    finally:
        app.config["UPLOAD_FOLDER"] = ""

    assert fake.status_code == 422 and list(fake.get_json()["fields"]) == ["photo"]
    assert real.status_code == 201
    photo_url = real.get_json()["photos"][0]["url"]
    assert session.scalar(select(func.count()).select_from(ListingPhoto)) == 1
    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    try:
        served = client.get(photo_url)
    finally:
        app.config["UPLOAD_FOLDER"] = ""
    assert served.mimetype == "image/jpeg"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served.headers["Content-Security-Policy"]


def test_a_batch_is_public_by_its_code(client, session):
    batch = BatchFactory(code="LF-CY-2026-01", farm="龙凤村田家沟茶园")
    answer = client.get("/api/v1/batches/lf-cy-2026-01")
    assert answer.status_code == 200
    assert answer.get_json()["farm"] == "龙凤村田家沟茶园"
    assert answer.get_json()["trace_url"] == f"/t/{batch.code}"


def test_the_catalogue_lists_products_with_their_grades_and_units_with_their_weight(
    client, session
):
    catalogue = client.get("/api/v1/catalogue").get_json()
    cuiya = next(p for p in catalogue["products"] if p["code"] == "meitan_cuiya")
    assert [grade["name_zh"] for grade in cuiya["grades"]] == ["特级", "一级", "二级"]
    assert {unit["code"]: unit["grams"] for unit in catalogue["units"]}["jin"] == 500


def test_listing_and_batch_endpoints_are_in_the_openapi_document(client, session):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/api/v1/listings", "/api/v1/listings/{listing_id}", "/api/v1/batches/{code}"} <= set(
        paths
    )
    assert set(paths["/api/v1/listings"]) == {"get", "post"}
