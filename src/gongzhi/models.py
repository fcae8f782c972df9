"""Imports every model so that ``Base.metadata`` is complete (Alembic, tests)."""

from gongzhi.cases import models as cases_models
from gongzhi.core import models as core_models
from gongzhi.db import Base

__all__ = ["Base", "cases_models", "core_models"]
