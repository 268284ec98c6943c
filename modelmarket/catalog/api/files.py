from modelmarket.catalog.api.router import router  # noqa: F401
