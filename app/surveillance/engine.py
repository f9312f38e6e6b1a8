"""The rule engine: reads the exchange's events from the event log after its cursor, feeds them to the rules
(rules.py), and raises an alert for each new finding, in the same transaction as it moves the cursor on.

So a crash or a restart neither misses an event (the cursor only moves with the alerts) nor raises one twice
(each alert's dedupe key is unique, and an engine starting afresh first replays the day's events before
its cursor to rebuild its windows without raising anything). `backfill` runs the rules over history with a
fresh memory, raising only what was not raised before.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app import events
from app.accounts.models import Organisation
from app.db import LOCAL_TIME, utcnow
from app.events import Cursor, Event
from app.exchange.models import Tender, TenderBid, TenderStatus, Trade
from app.surveillance import audit
from app.surveillance.models import Alert, EngineCursor, Threshold
from app.surveillance.rules import RULES, Finding, Seen, Watcher

WATCHED = (
    "exchange.trade",
    "exchange.order_placed",
    "exchange.order_cancelled",
    "exchange.bid",
    "exchange.tender_closed",
)
ALERT_EVENT = "surveillance.alert"


@dataclass(frozen=True)
class Run:
    events: int
    alerts: int
    lag_seconds: float  # how far behind the newest event read the engine was when it read it
    trades: int = 0


def thresholds(session: Session) -> dict[str, dict]:
    return {row.rule: row.values for row in session.scalars(select(Threshold))}


class Engine:
    """One engine per scheduler process: the rules' memory lives here between runs."""

    def __init__(self) -> None:
        self.watcher: Watcher | None = None
        self.relations: dict[int, set] = {}
        self.averages: dict[tuple[int, date], tuple[float, int]] = {}
        self.session: Session | None = None

    def evaluate(self, session: Session, *, limit: int = 5000, now: datetime | None = None) -> Run:
        """Read what came since the cursor, raise what the rules find, move the cursor: one transaction."""
        now = now or utcnow()
        self.session = session
        cursor_row = _cursor(session)
        cursor = Cursor(cursor_row.tx_id, cursor_row.event_id)
        if self.watcher is None:
            self.watcher = self._new_watcher(session)
            self._warm_up(session, cursor, now)
        # A supervisor may have changed a threshold, a member its phone or address: read them afresh.
        self.watcher.limits = self._new_watcher(session).limits
        self.relations = {}
        found = events.read_after(session, cursor, kinds=WATCHED, limit=limit)
        raised = 0
        for event in found:
            raised += self._raise(session, self.watcher.feed(_seen(event)), event, now)
        lag = (now - found[-1].created_at).total_seconds() if found else 0.0
        if found:
            cursor_row.tx_id, cursor_row.event_id, cursor_row.updated_at = (
                found[-1].tx_id,
                found[-1].id,
                now,
            )
        trades = sum(1 for event in found if event.kind == "exchange.trade")
        return Run(len(found), raised, lag, trades)

    def backfill(self, session: Session, *, since: datetime, now: datetime | None = None) -> Run:
        """Run the rules over the events from `since` up to the cursor with a fresh memory; raise only what
        was not raised before (after a rule or a threshold changes)."""
        now = now or utcnow()
        self.session = session
        watcher = self._new_watcher(session)
        cursor_row = _cursor(session)
        raised = count = 0
        for event in _events_between(session, since, Cursor(cursor_row.tx_id, cursor_row.event_id)):
            raised += self._raise(session, watcher.feed(_seen(event)), event, now)
            count += 1
        return Run(count, raised, 0.0)

    def _warm_up(self, session: Session, cursor: Cursor, now: datetime) -> None:
        """Rebuild the windows from today's events before the cursor, raising nothing (they were read)."""
        local_midnight = datetime.combine(now.astimezone(LOCAL_TIME).date(), time(), LOCAL_TIME)
        since = min(local_midnight, now - timedelta(hours=1))
        for event in _events_between(session, since, cursor):
            self.watcher.feed(_seen(event))

    def _new_watcher(self, session: Session) -> Watcher:
        return Watcher(
            thresholds(session),
            related=self._related,
            average_kg=self._average_kg,
            tender_history=self._tender_history,
        )

    def _raise(self, session: Session, findings: list[Finding], event: Event, now: datetime) -> int:
        raised = 0
        for finding in findings:
            alert_id = _insert_alert(session, finding, event, now)
            if alert_id is None:
                continue  # raised before
            raised += 1
            audit.record(
                session,
                actor_id=None,
                action="alert.raised",
                subject=f"alert:{alert_id}",
                detail={"rule": finding.rule, "key": finding.key, "evidence": finding.evidence},
                now=now,
            )
            events.record(
                session,
                ALERT_EVENT,
                subject="surveillance",
                payload={
                    "alert_id": alert_id,
                    "rule": finding.rule,
                    "severity": finding.severity.value,
                    "instrument_id": finding.instrument_id,
                },
                now=now,
            )
        return raised

    # --- what the rules ask of the database ----------------------------------------------------------

    def _related(self, first: int, second: int) -> bool:
        """Same legal representative, contact phone or address (a shared owner shows up as one of these)."""
        for organisation_id in (first, second):
            if organisation_id not in self.relations:
                self._load_relations()
        return bool(self.relations.get(first, set()) & self.relations.get(second, set()))

    def _load_relations(self) -> None:
        rows = self.session.execute(
            select(
                Organisation.id,
                Organisation.legal_representative,
                Organisation.contact_phone,
                Organisation.address,
            )
        )
        self.relations = {
            organisation_id: {
                f"{kind}:{value.strip()}"
                for kind, value in (("person", person), ("phone", phone), ("address", address))
                if value and value.strip()
            }
            for organisation_id, person, phone, address in rows
        }

    def _average_kg(self, instrument_id: int, day: date) -> tuple[float, int]:
        """The instrument's average kg per trading day over the days before `day`, and how many days."""
        key = (instrument_id, day)
        if key not in self.averages:
            days = int(self.watcher.limits["volume_spike"]["days"]) if self.watcher else 20
            start = datetime.combine(day - timedelta(days=days), time(), LOCAL_TIME)
            end = datetime.combine(day, time(), LOCAL_TIME)
            rows = self.session.execute(
                select(Trade.executed_at, Trade.kg).where(
                    Trade.instrument_id == instrument_id,
                    Trade.executed_at >= start,
                    Trade.executed_at < end,
                )
            )
            by_day: dict[date, int] = defaultdict(int)
            for executed_at, kg in rows:
                by_day[executed_at.astimezone(LOCAL_TIME).date()] += kg
            self.averages[key] = (
                sum(by_day.values()) / len(by_day) if by_day else 0.0,
                len(by_day),
            )
        return self.averages[key]

    def _tender_history(self, payload: dict) -> list[dict]:
        """The awarded tenders for the same product and grade, newest first, with bidders and the winner."""
        tender = self.session.get(Tender, payload["tender_id"])
        recent = self.session.scalars(
            select(Tender)
            .where(
                Tender.product_id == tender.product_id,
                Tender.grade_id == tender.grade_id,
                Tender.status == TenderStatus.awarded,
                Tender.closed_at <= tender.closed_at,
            )
            .order_by(Tender.closed_at.desc(), Tender.id.desc())
            .limit(20)
        ).all()
        bids = self.session.execute(
            select(TenderBid.tender_id, TenderBid.seller_id, TenderBid.won).where(
                TenderBid.tender_id.in_([t.id for t in recent])
            )
        ).all()
        history = {t.id: {"id": t.id, "bidders": set(), "winner": None} for t in recent}
        for tender_id, seller_id, won in bids:
            history[tender_id]["bidders"].add(seller_id)
            if won:
                history[tender_id]["winner"] = seller_id
        return [history[t.id] for t in recent]


def _cursor(session: Session) -> EngineCursor:
    found = session.get(EngineCursor, 1, with_for_update=True)
    if found is None:
        found = EngineCursor(id=1, tx_id=0, event_id=0)
        session.add(found)
        session.flush()  # one row, locked by whoever runs the engine
    return found


def _events_between(session: Session, since: datetime, cursor: Cursor, batch: int = 5000):
    """The watched events from `since` up to and including `cursor`, in log order."""
    after = Cursor()
    while True:
        found = session.scalars(
            select(Event)
            .where(
                Event.kind.in_(WATCHED),
                Event.created_at >= since,
                tuple_(Event.tx_id, Event.id) > tuple_(after.tx_id, after.id),
                tuple_(Event.tx_id, Event.id) <= tuple_(cursor.tx_id, cursor.id),
            )
            .order_by(Event.tx_id, Event.id)
            .limit(batch)
        ).all()
        if not found:
            return
        yield from found
        after = Cursor(found[-1].tx_id, found[-1].id)


def _seen(event: Event) -> Seen:
    return Seen(
        event.id, event.kind, event.created_at, event.organisation_id, event.subject, event.payload
    )


def _insert_alert(session: Session, finding: Finding, event: Event, now: datetime) -> int | None:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(Alert)
        .values(
            rule=finding.rule,
            severity=finding.severity,
            dedupe_key=finding.key,
            instrument_id=finding.instrument_id,
            member_ids=list(finding.member_ids),
            facts=finding.facts,
            evidence=finding.evidence,
            event_id=event.id,
            raised_at=now,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Alert.id)
    )
    return session.scalar(statement)


def alert_counts(session: Session) -> dict[str, int]:
    """Alerts by rule (for pages and reports)."""
    rows = session.execute(select(Alert.rule, func.count()).group_by(Alert.rule))
    return {rule: count for rule, count in rows if rule in RULES}
