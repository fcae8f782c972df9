"""Imports every model so that ``Base.metadata`` is complete (Alembic, tests)."""

from gongzhi.cases import models as cases_models
from gongzhi.core import models as core_models
from gongzhi.db import Base
from gongzhi.modules.catalog import models as catalog_models  # noqa: F401
from gongzhi.modules.intake import models as intake_models  # noqa: F401
from gongzhi.modules.pv import models as pv_models  # noqa: F401
from gongzhi.modules.village import models as village_models  # noqa: F401

__all__ = ["Base", "cases_models", "core_models"]
