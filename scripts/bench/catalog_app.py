"""The platform as `make run` serves it, plus one bare endpoint to compare the listings API with.

/bench/bare-listings answers the same filters as GET /api/v1/listings with one hand-made SQL query and
plain dicts: no access rules, no schemas, no ORM objects. The benchmark runs both on the same server.
"""

from flask import Blueprint, jsonify, request
from sqlalchemy import func, literal_column, select, text

from app import create_app
from app.auth import PUBLIC, requires
from app.catalog.market import SORTS, market_conditions
from app.catalog.models import Grade, Listing, ListingSearch, Product
from app.catalog.search import query_terms
from app.db import get_session, utcnow

bare = Blueprint("bench", __name__)


@bare.get("/bench/bare-listings")
@requires(PUBLIC)
def bare_listings():
    """The same 20 listings as the API, from one SQL query."""
    session = get_session()
    args = request.args
    conditions = market_conditions(
        session,
        viewer_kind=None,
        now=utcnow(),
        category=args.get("category"),
        town=args.get("town"),
        grade=args.get("grade"),
    )
    if args.get("q"):
        conditions.append(Listing.id.in_(_text_search(session, args["q"])))
    query = (
        select(
            Listing.id,
            Listing.title,
            Listing.price_fen,
            Listing.price_per_kg_fen,
            Listing.unit_code,
            Listing.quantity,
            Listing.min_order,
            Listing.town,
            Listing.village,
            Listing.status,
            Product.code.label("product"),
            Grade.code.label("grade"),
        )
        .join(Product, Product.id == Listing.product_id)
        .join(Grade, Grade.id == Listing.grade_id)
        .where(*conditions)
        .order_by(*SORTS[args.get("sort", "newest")])
        .limit(20)
    )
    return jsonify([dict(row._mapping) for row in session.execute(query)])


def _text_search(session, typed: str):
    whole, prefixes = query_terms(typed)
    if session.get_bind().dialect.name == "postgresql":
        expression = " & ".join([*(f"'{t}'" for t in whole), *(f"'{w}':*" for w in prefixes)])
        return select(ListingSearch.listing_id).where(
            ListingSearch.document.op("@@")(func.to_tsquery(literal_column("'simple'"), expression))
        )
    expression = " ".join([*(f'"{t}"' for t in whole), *(f'"{w}"*' for w in prefixes)])
    return (
        select(literal_column("rowid"))
        .select_from(text("listing_search_fts"))
        .where(text("listing_search_fts MATCH :e").bindparams(e=expression))
    )


app = create_app()
app.register_blueprint(bare)
