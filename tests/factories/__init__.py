"""factory-boy factories for every model, sharing the test's session (see bind)."""

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from tests.factories.accounts import (
    ApiTokenFactory,
    EventFactory,
    InvitationFactory,
    MembershipFactory,
    OrganisationFactory,
    SignInAttemptFactory,
    UserFactory,
    member,
)
from tests.factories.base import BaseFactory
from tests.factories.catalog import (
    BatchFactory,
    BatchInputFactory,
    ListingFactory,
    ListingImportFactory,
    ListingImportRowFactory,
    ListingPhotoFactory,
    ListingSearchFactory,
    StockMovementFactory,
    TestReportFactory,
    UploadFactory,
)

__all__ = [
    "ApiTokenFactory",
    "BatchFactory",
    "BatchInputFactory",
    "EventFactory",
    "InvitationFactory",
    "ListingFactory",
    "ListingImportFactory",
    "ListingImportRowFactory",
    "ListingPhotoFactory",
    "ListingSearchFactory",
    "MembershipFactory",
    "OrganisationFactory",
    "SignInAttemptFactory",
    "StockMovementFactory",
    "TestReportFactory",
    "UploadFactory",
    "UserFactory",
    "bind",
    "member",
    "unbind",
]


def _all_factories(cls=BaseFactory):
    if cls is BaseFactory:
        yield cls  # factories that look up reference data ask the base for the session
    for subclass in cls.__subclasses__():
        yield subclass
        yield from _all_factories(subclass)


def bind(connection: Connection) -> Session:
    """Give every factory a session on the test's connection; returns it for the test to use."""
    session = Session(
        bind=connection, join_transaction_mode="rollback_only", expire_on_commit=False
    )
    for factory in _all_factories():
        factory._meta.sqlalchemy_session = session
    return session


def unbind() -> None:
    for factory in _all_factories():
        session = factory._meta.sqlalchemy_session
        if session is not None:
            session.close()
        factory._meta.sqlalchemy_session = None
