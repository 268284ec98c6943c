# Import order matters (isort would break it): fixed paths such as /models/autocomplete must be registered before
# /models/{slug}, or the parameterised route would capture them.
from modelmarket.catalog.api import search  # noqa: I001, F401
from modelmarket.catalog.api import models  # noqa: F401
from modelmarket.catalog.api import files  # noqa: F401
from modelmarket.catalog.api.router import router

__all__ = ["router"]
