import factory


class BaseFactory(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session = None  # set per test by tests.factories.bind
        sqlalchemy_session_persistence = "flush"
