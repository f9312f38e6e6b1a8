"""How alerts read to a person: each rule's name, and a sentence built from the alert's facts."""

from flask_babel import gettext as _

from app.exchange.models import SUSPENSION_LABELS, SuspensionStatus
from app.i18n import N_, money
from app.surveillance.models import ALERT_LABELS, SEVERITY_LABELS

RULE_LABELS = {
    "self_trade": N_("self-trade attempt"),
    "wash_trade": N_("wash trade (round trip)"),
    "related_trade": N_("trade between related members"),
    "spoofing": N_("orders far beyond trades (spoofing, layering)"),
    "rapid_cancel": N_("rapid cancels"),
    "price_move": N_("price move"),
    "volume_spike": N_("volume far above the usual"),
    "shill_bidding": N_("shill bidding"),
    "bid_rotation": N_("bid rotation in tenders"),
    "concentration": N_("concentration"),
}


THRESHOLD_LABELS = {
    "attempts": N_("attempts before an alert"),
    "window_minutes": N_("window (minutes)"),
    "min_orders": N_("least orders in the window"),
    "order_to_trade": N_("orders per trade"),
    "within_seconds": N_("cancelled within (seconds)"),
    "cancels": N_("rapid cancels in the window"),
    "percent": N_("percent"),
    "times_average": N_("times the daily average"),
    "days": N_("days averaged"),
    "min_days": N_("least days of history"),
    "tenders": N_("tenders looked at"),
    "min_tenders": N_("least tenders"),
    "max_bidders": N_("most bidders in the ring"),
    "min_kg": N_("least kg traded today"),
}


def threshold_label(name: str) -> str:
    return _(THRESHOLD_LABELS.get(name, name))


def suspension_status_label(status: str) -> str:
    return _(SUSPENSION_LABELS[SuspensionStatus(status)])


def rule_label(rule: str) -> str:
    return _(RULE_LABELS.get(rule, rule))


def severity_label(severity: str) -> str:
    return _(SEVERITY_LABELS[severity])


def alert_status_label(status: str) -> str:
    return _(ALERT_LABELS[status])


def alert_summary(alert) -> str:
    facts = alert.facts or {}
    sentences = {
        "self_trade": lambda: _(
            "%(n)d orders met the member's own orders.", n=facts.get("attempts", 0)
        ),
        "wash_trade": lambda: _(
            "Two members traded the same tea back and forth within %(minutes)s minutes.",
            minutes=facts.get("minutes"),
        ),
        "related_trade": lambda: _(
            "Buyer and seller share an owner, representative, phone or address."
        ),
        "spoofing": lambda: _(
            "%(orders)d orders against %(trades)d trades (%(ratio)s to 1).",
            orders=facts.get("orders", 0),
            trades=facts.get("trades", 0),
            ratio=facts.get("ratio"),
        ),
        "rapid_cancel": lambda: _(
            "%(n)d orders cancelled within %(s)s seconds of being placed.",
            n=facts.get("cancels", 0),
            s=facts.get("seconds"),
        ),
        "price_move": lambda: _(
            "The price moved %(pct)s%% (%(a)s to %(b)s per kg).",
            pct=facts.get("percent"),
            a=money(facts.get("from_fen")),
            b=money(facts.get("to_fen")),
        ),
        "volume_spike": lambda: _(
            "%(kg)s kg today against %(avg)s kg a day over %(days)s days.",
            kg=facts.get("kg"),
            avg=facts.get("average_kg"),
            days=facts.get("days"),
        ),
        "shill_bidding": lambda: _("A bidder related to the seller bid in the seller's auction."),
        "bid_rotation": lambda: _(
            "The same %(n)d bidders took turns winning the last %(t)d tenders.",
            n=facts.get("bidders", 0),
            t=facts.get("tenders", 0),
        ),
        "concentration": lambda: _(
            "One member made %(pct)s%% of today's volume (%(kg)s of %(of)s kg).",
            pct=facts.get("percent"),
            kg=facts.get("kg"),
            of=facts.get("of_kg"),
        ),
    }
    return sentences.get(alert.rule, lambda: rule_label(alert.rule))()
