"""HTTP API of a plant's production data and the soiling it gives, under /api/v1/pv/plants/{id}: import a
CSV/Excel file (all rows or none, each bad row named), read the per-zone rates and the IR calibration."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import File, Form, UploadFile

from gongzhi.core.deps import SessionDep, StateDep, api_router
from gongzhi.errors import InvalidInput, msg
from gongzhi.kit.validation import DbInt
from gongzhi.modules.pv import loop, production, service
from gongzhi.modules.pv.schemas import CalibrationRead, ProductionImportRead, SoilingRead, ZoneSoilingRead

router = api_router(prefix="/api/v1/pv", tags=["pv"])


@router.post("/plants/{plant_id}/production", status_code=201)
def import_production(
    s: SessionDep,
    st: StateDep,
    plant_id: DbInt,
    file: Annotated[UploadFile, File()],
    zone: Annotated[str | None, Form(max_length=20)] = None,
    timezone: Annotated[str | None, Form(max_length=60)] = None,
) -> ProductionImportRead:
    """Import production data (see ``io.production`` for the columns); the worker recomputes the soiling."""
    data = file.file.read(st.settings.max_upload_bytes + 1)
    if not data:
        raise InvalidInput(msg("the production file is empty"))
    if len(data) > st.settings.max_upload_bytes:
        raise InvalidInput(msg("the production file is larger than the upload limit"))
    out = production.import_production(
        s, plant_id, data, file.filename or "production.csv", zone=zone or None, timezone=timezone or None
    )
    return ProductionImportRead(**vars(out))


@router.get("/plants/{plant_id}/soiling")
def soiling(s: SessionDep, plant_id: DbInt) -> SoilingRead:
    """Per zone, the soiling rate from production data; for the plant, the calibration of the IR index."""
    plant = service.get_plant(s, plant_id)
    rows = production.zone_soiling(s, plant.id)
    cal = loop.zone_calibration(s, plant.id)
    return SoilingRead(
        zones=[ZoneSoilingRead.model_validate(rows[z]) for z in sorted(rows)],
        calibration=CalibrationRead(
            slope=_number(cal.slope),
            intercept=_number(cal.intercept),
            r2=_number(cal.r2),
            slope_se=_number(cal.slope_se),
            points=cal.points,
            usable=cal.usable,
        ),
    )


def _number(x: float) -> float | None:
    return x if math.isfinite(x) else None
