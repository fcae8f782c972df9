"""Anomaly classes of PV modules in infrared, severity bands and the class of abnormality (CoA).

Classes follow IEC TS 62446-3:2017 practice and the PV-Hawk defect schema (``domain/pv.md`` §1–2), at the
granularity of the InfraredSolarModules data set's twelve labels, plus the string and junction-box patterns
that a crop classifier cannot see:

============================  ==========================================  ==============================
class                         pattern                                     InfraredSolarModules label
============================  ==========================================  ==============================
``single_hot_cell``           one whole cell warmer                       Cell
``multiple_hot_cells``        several whole cells warmer                  Cell-Multi
``hot_spot``                  a small spot inside a cell, steep           Hot-Spot, Hot-Spot-Multi
``substring``                 one third of the module (bypass diode)      Diode, Diode-Multi
``module_offline``            the whole module homogeneously warmer       Offline-Module
``string_offline``            consecutive modules of one string warmer    –
``junction_box``              a hot spot at the junction box              –
``shading``                   a straight-edged cooler region              Shadowing
``soiling``                   diffuse warm patches, heavier at the low    Soiling
                              edge
``vegetation``                irregular cool blobs from the low edge      Vegetation
``cracking``                  part of a cell warmer, bounded by a crack   Cracking
============================  ==========================================  ==============================

Severity (aerialaccuracy.com scale on ΔTn, ``domain/pv.md`` §1): ``S1`` below 10 K, ``S2`` 10–20 K, ``S3``
20 K and above; a bypass-diode substring is at least ``S2`` and an offline module or string ``S3``, whatever
its ΔT (their loss is electrical, not thermal).

CoA: 1 no abnormality, 2 thermal abnormality, 3 safety-relevant abnormality (ΔT ≥ 20 K, or a
junction box or hot spot of 10 K and more: localised heating at a diode or solder bond is a fire risk).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class Anomaly(StrEnum):
    """Anomaly class of one module; ``NONE`` when nothing abnormal is seen."""

    NONE = "none"
    SINGLE_HOT_CELL = "single_hot_cell"
    MULTIPLE_HOT_CELLS = "multiple_hot_cells"
    HOT_SPOT = "hot_spot"
    SUBSTRING = "substring"
    MODULE_OFFLINE = "module_offline"
    STRING_OFFLINE = "string_offline"
    JUNCTION_BOX = "junction_box"
    SHADING = "shading"
    SOILING = "soiling"
    VEGETATION = "vegetation"
    CRACKING = "cracking"


ANOMALIES: tuple[Anomaly, ...] = tuple(a for a in Anomaly if a is not Anomaly.NONE)
"""Every anomaly class, without ``NONE``."""

ISM_LABELS: Mapping[str, Anomaly] = MappingProxyType(
    {
        "No-Anomaly": Anomaly.NONE,
        "Cell": Anomaly.SINGLE_HOT_CELL,
        "Cell-Multi": Anomaly.MULTIPLE_HOT_CELLS,
        "Hot-Spot": Anomaly.HOT_SPOT,
        "Hot-Spot-Multi": Anomaly.HOT_SPOT,
        "Diode": Anomaly.SUBSTRING,
        "Diode-Multi": Anomaly.SUBSTRING,
        "Offline-Module": Anomaly.MODULE_OFFLINE,
        "Shadowing": Anomaly.SHADING,
        "Soiling": Anomaly.SOILING,
        "Vegetation": Anomaly.VEGETATION,
        "Cracking": Anomaly.CRACKING,
    }
)
"""InfraredSolarModules label (the learned crop classifier's classes) → anomaly class."""

SEVERITY_BANDS_K = (10.0, 20.0)
"""Upper bounds of severity S1 and S2 on ΔT (or ΔTn when irradiance is known) [K]."""


SEVERITY_FLOORS: Mapping[Anomaly, str] = MappingProxyType(
    {
        Anomaly.SUBSTRING: "S2",
        Anomaly.MODULE_OFFLINE: "S3",
        Anomaly.STRING_OFFLINE: "S3",
    }
)
"""The least severity of the patterns whose power loss does not show in their ΔT.

An open circuit makes a module, or every module of a string, only a few kelvin warmer (it no longer
converts light to current), yet its output is gone; a conducting bypass diode takes a third of the
module's. Practice records them regardless of ΔT (Above Surveying, ``domain/pv.md`` §1), and the ΔT
scale's bands stand for about 15 / 30 / 60 % of a module's power lost (aerialaccuracy.com): a third of a
module is S2, a whole module or string S3."""


def severity(delta_t_k: float, anomaly: Anomaly | None = None) -> str:
    """Severity band of a temperature difference [K]: ``"S1"`` < 10, ``"S2"`` 10–20, ``"S3"`` ≥ 20; for a
    pattern given as ``anomaly``, at least its :data:`SEVERITY_FLOORS` band."""
    band = "S3" if delta_t_k >= SEVERITY_BANDS_K[1] else "S2" if delta_t_k >= SEVERITY_BANDS_K[0] else "S1"
    floor = SEVERITY_FLOORS.get(anomaly) if anomaly is not None else None
    return max(band, floor) if floor is not None else band


def class_of_abnormality(anomaly: Anomaly, delta_t_k: float) -> int:
    """IEC TS 62446-3 class of abnormality: 1 none, 2 thermal abnormality, 3 safety-relevant.

    Parameters
    ----------
    anomaly : Anomaly
        Pattern class.
    delta_t_k : float
        ΔT of the pattern (ΔTn when irradiance is known) [K].
    """
    if anomaly is Anomaly.NONE:
        return 1
    if delta_t_k >= SEVERITY_BANDS_K[1]:
        return 3
    if anomaly in (Anomaly.JUNCTION_BOX, Anomaly.HOT_SPOT) and delta_t_k >= SEVERITY_BANDS_K[0]:
        return 3
    return 2


SEVERITY_LOSS_SHARE: Mapping[str, float] = MappingProxyType({"S1": 0.15, "S2": 0.30, "S3": 0.60})
"""A module's share of its power lost in each severity band: the vendor figures the ΔT scale stands for
(aerialaccuracy.com, ``domain/pv.md`` §1), about 15, 30 and 60 %."""

ELECTRICAL_LOSS_SHARE: Mapping[Anomaly, float] = MappingProxyType(
    {Anomaly.SUBSTRING: 1 / 3, Anomaly.MODULE_OFFLINE: 1.0, Anomaly.STRING_OFFLINE: 1.0}
)
"""A module's share of its power lost to the patterns whose loss is electrical: a conducting bypass diode
shorts one of the module's three substrings, an open circuit the whole module (for a string, each of its
modules)."""

TRANSIENT: frozenset[Anomaly] = frozenset({Anomaly.SHADING, Anomaly.SOILING, Anomaly.VEGETATION})
"""Patterns whose loss one flight cannot tell: it comes and goes with the shade's hour, the rain and the
growth (soiling's is measured on the production data instead)."""


def power_loss_share(anomaly: Anomaly, severity_band: str) -> float | None:
    """Estimated share of a module's rated power that an anomaly costs [0–1].

    Parameters
    ----------
    anomaly : Anomaly
        Pattern class.
    severity_band : str
        Its severity (``"S1"``, ``"S2"`` or ``"S3"``, :func:`severity`).

    Returns
    -------
    float or None
        :data:`ELECTRICAL_LOSS_SHARE` for a substring or an offline module or string (each module of it);
        else the band's :data:`SEVERITY_LOSS_SHARE`; ``None`` for no anomaly, a :data:`TRANSIENT` pattern or
        an unknown band.
    """
    if anomaly is Anomaly.NONE or anomaly in TRANSIENT:
        return None
    if anomaly in ELECTRICAL_LOSS_SHARE:
        return ELECTRICAL_LOSS_SHARE[anomaly]
    return SEVERITY_LOSS_SHARE.get(severity_band)


def named_loss_share(anomaly_class: str, severity_band: str) -> float | None:
    """:func:`power_loss_share` of a class given by its name (a stored finding's); ``None`` for a name that
    is no class."""
    try:
        anomaly = Anomaly(anomaly_class)
    except ValueError:
        return None
    return power_loss_share(anomaly, severity_band)


@dataclass(frozen=True)
class LossAtStake:
    """What a set of defects costs (:func:`loss_at_stake`): an estimate on :func:`power_loss_share`, not a
    measurement."""

    modules: float
    """Modules' worth of power lost [-]."""
    estimated: int
    """Defects with an estimate."""
    not_estimated: int
    """Defects that one flight cannot put a figure on (:data:`TRANSIENT`)."""
    share: float
    """Of the plant's power [0–1]."""
    kwh_per_day: float
    """Of the plant's energy on a day it makes its sound daily energy [kWh/day]."""
    yuan_per_year: float
    """That day's loss over a year at the tariff [yuan]."""


def loss_at_stake(
    losses: Iterable[float | None], module_count: int, energy_kwh_per_day: float, tariff_per_kwh: float
) -> LossAtStake:
    """What defects cost, given each one's loss in modules' worth (``None`` where it has none), on a plant
    of ``module_count`` modules that makes ``energy_kwh_per_day`` [kWh/day] when sound, at
    ``tariff_per_kwh`` [yuan/kWh]."""
    each = list(losses)
    known = [x for x in each if x is not None]
    modules = sum(known)
    share = modules / module_count if module_count > 0 else 0.0
    kwh_day = share * energy_kwh_per_day
    return LossAtStake(
        modules, len(known), len(each) - len(known), share, kwh_day, kwh_day * 365 * tariff_per_kwh
    )
