"""JSON API for the exchange's trading venues: listed lots (挂牌/摘牌), English and Dutch auctions, tenders
(竞卖/招标), and the daily price index per grade."""

from flask_babel import gettext as _

from app.auth import (
    BUYERS,
    EXCHANGE_MEMBERS,
    PUBLIC,
    SELLERS,
    current_actor,
    requires,
)
from app.db import get_session, utcnow
from app.errors import NotFound
from app.exchange import (
    auctions,
    index,
    lots,
    queries,
    tenders,
)
from app.exchange.api import as_member
from app.exchange.models import Auction, Bid, Lot, Tender, TenderBid, Trade
from app.exchange.schemas import (
    AuctionDetailSchema,
    AuctionSchema,
    BidOutSchema,
    BidSchema,
    CreateAuctionSchema,
    IndexPointSchema,
    IndexQuery,
    ListLotSchema,
    LotSchema,
    PostTenderSchema,
    TakeSchema,
    TenderBidOutSchema,
    TenderBidSchema,
    TenderSchema,
    TradeSchema,
    in_fen,
)
from app.orders.api import IDEMPOTENCY_KEY, idempotency_key
from app.web import ApiBlueprint

blp = ApiBlueprint(
    "exchange_venues_api",
    __name__,
    url_prefix="/api/v1/exchange",
    description="The tea exchange's venues: listed lots, auctions, tenders, the daily price index.",
)


# --- listed lots -----------------------------------------------------------------------------------------


@blp.route("/lots", methods=["GET"])
@blp.response(200, LotSchema(many=True))
@requires(PUBLIC)
def lots_index():
    """Lots listed now, cheapest first."""
    return queries.open_lots(get_session())


@blp.route("/lots", methods=["POST"])
@blp.arguments(ListLotSchema)
@blp.response(201, LotSchema)
@requires(EXCHANGE_MEMBERS)
def list_lot(data):
    """List lots of a receipt you hold at a fixed price per kg (挂牌)."""
    return as_member(lots.list_lot, Lot, **in_fen(data))


@blp.route("/lots/<int:lot_id>/take", methods=["POST"])
@blp.doc(parameters=[IDEMPOTENCY_KEY])
@blp.arguments(TakeSchema)
@blp.response(201, TradeSchema)
@requires(EXCHANGE_MEMBERS)
def take(data, lot_id: int):
    """Take lots of a listing at its price (摘牌), paid from your deposit at once."""
    return as_member(lots.take_lot, Trade, lot_id=lot_id, idempotency_key=idempotency_key(), **data)


@blp.route("/lots/<int:lot_id>", methods=["DELETE"])
@blp.response(200, LotSchema)
@requires(EXCHANGE_MEMBERS)
def delist(lot_id: int):
    """Withdraw what is left of your listed lot; its receipt is free again."""
    return as_member(lots.delist_lot, Lot, lot_id=lot_id)


# --- auctions ----------------------------------------------------------------------------------------------


@blp.route("/auctions", methods=["GET"])
@blp.response(200, AuctionSchema(many=True))
@requires(PUBLIC)
def auctions_index():
    """Open auctions, soonest to close first, then those closed in the last week."""
    return queries.auctions_list(get_session(), now=utcnow())


@blp.route("/auctions", methods=["POST"])
@blp.arguments(CreateAuctionSchema)
@blp.response(201, AuctionSchema)
@requires(EXCHANGE_MEMBERS)
def create_auction(data):
    """Put receipt-backed lots up for an English auction or on a Dutch clock."""
    return as_member(auctions.create_auction, Auction, **in_fen(data))


@blp.route("/auctions/<int:auction_id>", methods=["GET"])
@blp.response(200, AuctionDetailSchema)
@requires(PUBLIC)
def auction_detail(auction_id: int):
    """An auction with its bids, newest first (and a Dutch clock's price now)."""
    auction = get_session().get(Auction, auction_id)
    if auction is None:
        raise NotFound(_("No such auction."))
    return auction


@blp.route("/auctions/<int:auction_id>/bids", methods=["POST"])
@blp.arguments(BidSchema)
@blp.response(201, BidOutSchema)
@requires(EXCHANGE_MEMBERS)
def bid(data, auction_id: int):
    """Bid in an English auction; the money is reserved from your deposit until you are outbid."""
    return as_member(auctions.place_bid, Bid, auction_id=auction_id, **in_fen(data))


@blp.route("/auctions/<int:auction_id>/accept", methods=["POST"])
@blp.doc(parameters=[IDEMPOTENCY_KEY])
@blp.arguments(TakeSchema)
@blp.response(201, TradeSchema)
@requires(EXCHANGE_MEMBERS)
def accept(data, auction_id: int):
    """Stop a Dutch clock for the lots you name at its price now, paid from your deposit."""
    key = idempotency_key()
    return as_member(
        auctions.accept_clock, Trade, auction_id=auction_id, idempotency_key=key, **data
    )


# --- tenders and the price index -----------------------------------------------------------------------


@blp.route("/tenders", methods=["GET"])
@blp.response(200, TenderSchema(many=True))
@requires(PUBLIC)
def tenders_index():
    """Tenders taking bids (soonest to close first), then those closed in the last month."""
    return queries.tenders_list(get_session(), now=utcnow())


@blp.route("/tenders", methods=["POST"])
@blp.arguments(PostTenderSchema)
@blp.response(201, TenderSchema)
@requires(BUYERS)
def post_tender(data):
    """Put a need out to tender: sellers bid prices down until it closes; the lowest wins a contract."""
    return as_member(tenders.post_tender, Tender, **in_fen(data))


@blp.route("/tenders/<int:tender_id>", methods=["GET"])
@blp.response(200, TenderSchema)
@requires(PUBLIC)
def tender_detail(tender_id: int):
    """A tender, with its best bid so far (not who made it)."""
    tender = get_session().get(Tender, tender_id)
    if tender is None:
        raise NotFound(_("No such tender."))
    return tender


@blp.route("/tenders/<int:tender_id>/bids", methods=["POST"])
@blp.arguments(TenderBidSchema)
@blp.response(201, TenderBidOutSchema)
@requires(SELLERS)
def tender_bid(data, tender_id: int):
    """Bid to fill a tender from one of your listings; a new bid of yours must be lower than your last."""
    kind = current_actor().kind
    return as_member(
        tenders.place_tender_bid,
        TenderBid,
        organisation_kind=kind,
        tender_id=tender_id,
        **in_fen(data),
    )


@blp.route("/index/<int:product_id>/<int:grade_id>", methods=["GET"])
@blp.arguments(IndexQuery, location="query")
@blp.response(200, IndexPointSchema(many=True))
@requires(PUBLIC)
def price_index(query, product_id: int, grade_id: int):
    """The daily price index of a product and grade, oldest first (volume-weighted, 100.00 on its base day)."""
    return index.index_history(get_session(), product_id, grade_id, days=query["days"])
