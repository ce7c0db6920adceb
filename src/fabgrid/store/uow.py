"""Unit of work: one session and one transaction per use case, with the repositories on it.

Depends on the store only. Services open one, call repositories, and commit once.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.orm import Session

from fabgrid.store.acceptance import AcceptanceRepository
from fabgrid.store.checkout import CheckoutRepository
from fabgrid.store.db import session_factory
from fabgrid.store.dispatch import DispatchRepository
from fabgrid.store.disruptions import NetworkDisruptionRepository
from fabgrid.store.factories import FactoryRepository
from fabgrid.store.network import CatalogRepository
from fabgrid.store.orders import OrderRepository
from fabgrid.store.ratelimit import RateBucketRepository
from fabgrid.store.repositories import (
    AuditRepository,
    DisruptionRepository,
    JobRepository,
    OrganisationRepository,
    PartRepository,
    QuoteRepository,
    TokenRepository,
    UserRepository,
    WebhookRepository,
)
from fabgrid.store.rfq import RfqRepository
from fabgrid.store.team import TeamRepository
from fabgrid.store.value_reports import ValueReportRepository


class UnitOfWork:
    """``with UnitOfWork(url) as uow: ...; uow.commit()``; leaving without commit rolls back."""

    session: Session
    catalog: CatalogRepository
    organisations: OrganisationRepository
    users: UserRepository
    tokens: TokenRepository
    parts: PartRepository
    jobs: JobRepository
    quotes: QuoteRepository
    orders: OrderRepository
    audit: AuditRepository
    webhooks: WebhookRepository
    disruptions: DisruptionRepository
    rate_buckets: RateBucketRepository
    factories: FactoryRepository
    dispatch: DispatchRepository
    acceptance: AcceptanceRepository
    checkout: CheckoutRepository
    rfq: RfqRepository
    network_disruptions: NetworkDisruptionRepository
    value_reports: ValueReportRepository
    team: TeamRepository

    def __init__(self, url: str) -> None:
        self._factory = session_factory(url)
        #: which database this unit of work is on (the URL as given), for caches kept per database
        self.database_key = url

    def __enter__(self) -> UnitOfWork:
        self.session = self._factory()
        self.catalog = CatalogRepository(self.session)
        self.organisations = OrganisationRepository(self.session)
        self.users = UserRepository(self.session)
        self.tokens = TokenRepository(self.session)
        self.parts = PartRepository(self.session)
        self.jobs = JobRepository(self.session)
        self.quotes = QuoteRepository(self.session)
        self.orders = OrderRepository(self.session)
        self.audit = AuditRepository(self.session)
        self.webhooks = WebhookRepository(self.session)
        self.disruptions = DisruptionRepository(self.session)
        self.rate_buckets = RateBucketRepository(self.session)
        self.factories = FactoryRepository(self.session)
        self.dispatch = DispatchRepository(self.session)
        self.acceptance = AcceptanceRepository(self.session)
        self.checkout = CheckoutRepository(self.session)
        self.rfq = RfqRepository(self.session)
        self.network_disruptions = NetworkDisruptionRepository(self.session)
        self.value_reports = ValueReportRepository(self.session)
        self.team = TeamRepository(self.session)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.session.rollback()
        self.session.close()

    def commit(self) -> None:
        """Commit the transaction."""
        self.session.commit()
