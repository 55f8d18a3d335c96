"""Fixtures shared across test modules of this folder."""
from guide_fixtures import consortium  # noqa: F401 (the guides' consortium fixture)
