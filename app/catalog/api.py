"""JSON API for the catalogue, listings (search with filters and facets) and traceable batches."""

from dataclasses import asdict

from flask import request
from flask.views import MethodView
from flask_babel import gettext as _

from app.auth import PUBLIC, SELLERS, current_actor, requires
from app.catalog import batches, market, queries, services
from app.catalog.schemas import (
    AdjustStockSchema,
    BatchSchema,
    CatalogueSchema,
    CreateListingSchema,
    ListingPageSchema,
    ListingQuerySchema,
    ListingSchema,
    RecordBatchSchema,
    StockMovementSchema,
    TestReportSchema,
    UpdateListingSchema,
)
from app.catalog.views import current_catalogue, market_cache
from app.db import get_session, transaction, utcnow
from app.errors import NotFound, RuleViolation
from app.uploads import upload_folder
from app.web import ApiBlueprint

blp = ApiBlueprint(
    "catalog_api",
    __name__,
    url_prefix="/api/v1",
    description="The catalogue, listings with search and facets, and traceable batches.",
)
_OPEN = {"security": []}


@blp.route("/catalogue")
@blp.doc(**_OPEN)
@blp.response(200, CatalogueSchema)
@requires(PUBLIC)
def catalogue():
    """Categories, products with their grades, and units (with their weight in grams)."""
    return current_catalogue()


@blp.route("/listings")
class Listings(MethodView):
    @blp.doc(**_OPEN)
    @blp.arguments(ListingQuerySchema, location="query")
    @blp.response(200, ListingPageSchema)
    @requires(PUBLIC)
    def get(self, filters):
        """Listings on sale that you may see: search (q), filters, sort, pages; facets=true adds counts."""
        size, with_facets = filters.pop("size"), filters.pop("facets")
        found = market.browse(
            get_session(),
            viewer_kind=current_actor().kind,
            now=utcnow(),
            size=size,
            with_facets=with_facets,
            cache=market_cache(),
            as_rows=True,
            **filters,
        )
        page = found.page
        return {
            "items": page.items,
            "page": page.number,
            "size": page.size,
            "has_more": page.has_next,
            "total": page.total,
            "facets": asdict(found.facets) if found.facets else None,
        }

    @blp.arguments(CreateListingSchema)
    @blp.response(201, ListingSchema)
    @requires(SELLERS)
    def post(self, data):
        """List produce; publish=false keeps it a draft."""
        actor = current_actor()
        with transaction() as write:
            listing = services.create_listing(
                write, organisation_id=actor.organisation_id, actor_id=actor.user_id, **data
            )
        return _visible(listing.id)


@blp.route("/listings/<int:listing_id>")
class ListingResource(MethodView):
    @blp.doc(**_OPEN)
    @blp.response(200, ListingSchema)
    @requires(PUBLIC)
    def get(self, listing_id: int):
        """One listing, if it is offered to you (its seller always sees it)."""
        return _visible(listing_id)

    @blp.arguments(UpdateListingSchema(partial=True))
    @blp.response(200, ListingSchema)
    @requires(SELLERS)
    def patch(self, data, listing_id: int):
        """Change a listing's particulars, or put it on sale (status active) or take it off (paused)."""
        actor = current_actor()
        with transaction() as write:
            services.change_listing(
                write,
                organisation_id=actor.organisation_id,
                actor_id=actor.user_id,
                listing_id=listing_id,
                **data,
            )
        return _visible(listing_id)


@blp.route("/listings/<int:listing_id>/stock")
class Stock(MethodView):
    @blp.response(200, StockMovementSchema(many=True))
    @requires(SELLERS)
    def get(self, listing_id: int):
        """The listing's stock history, newest first."""
        services.own_listing(get_session(), current_actor().organisation_id, listing_id)
        return queries.stock_history(get_session(), listing_id)

    @blp.arguments(AdjustStockSchema)
    @blp.response(200, ListingSchema)
    @requires(SELLERS)
    def post(self, data, listing_id: int):
        """Add (+) or take away (-) stock, with a reason kept in the history."""
        actor = current_actor()
        with transaction() as write:
            services.adjust_stock(
                write,
                organisation_id=actor.organisation_id,
                actor_id=actor.user_id,
                listing_id=listing_id,
                **data,
            )
        return _visible(listing_id)


@blp.route("/listings/<int:listing_id>/photos", methods=["POST"])
@blp.doc(
    requestBody={
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"photo": {"type": "string", "format": "binary"}},
                }
            }
        }
    }
)
@blp.response(201, ListingSchema)
@requires(SELLERS)
def add_photo(listing_id: int):
    """Add a photo (JPEG, PNG or WebP, at most 5 MB) as multipart field 'photo'."""
    file = request.files.get("photo")
    if file is None or not file.filename:
        raise RuleViolation(_("Send the photo as the multipart field 'photo'."), field="photo")
    with transaction() as write:
        services.add_listing_photo(
            write,
            organisation_id=current_actor().organisation_id,
            listing_id=listing_id,
            filename=file.filename,
            data=file.read(),
            folder=upload_folder(),
        )
    return _visible(listing_id)


@blp.route("/batches", methods=["POST"])
@blp.arguments(RecordBatchSchema)
@blp.response(201, BatchSchema)
@requires(SELLERS)
def record_batch(data):
    """Record a harvest batch with the inputs applied to its crop."""
    actor = current_actor()
    with transaction() as write:
        batch = batches.record_batch(
            write, organisation_id=actor.organisation_id, actor_id=actor.user_id, **data
        )
    return queries.batch_by_code(get_session(), batch.code)


@blp.route("/batches/<code>")
@blp.doc(**_OPEN)
@blp.response(200, BatchSchema)
@requires(PUBLIC)
def batch(code: str):
    """A batch's trace: origin, harvest, inputs and tests (public, like its trace page)."""
    found = queries.batch_by_code(get_session(), code.upper())
    if found is None:
        raise NotFound(_("No batch has the code %(code)s.", code=code))
    return found


@blp.route("/batches/<code>/tests", methods=["POST"])
@blp.arguments(TestReportSchema)
@blp.response(201, BatchSchema)
@requires(SELLERS)
def add_test(data, code: str):
    """Record a test of the batch (the report file is added on the batch's page)."""
    actor = current_actor()
    with transaction() as write:
        batches.add_test_report(
            write,
            organisation_id=actor.organisation_id,
            actor_id=actor.user_id,
            batch_code=code.upper(),
            **data,
        )
    return queries.batch_by_code(get_session(), code.upper())


def _visible(listing_id: int):
    actor = current_actor()
    listing = queries.listing_for(
        get_session(),
        listing_id,
        viewer_kind=actor.kind,
        viewer_organisation_id=actor.organisation_id,
    )
    if listing is None:
        raise NotFound(_("This listing does not exist, or it is not offered to you."))
    return listing
