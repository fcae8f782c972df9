"""The flight pipeline on a real Dask cluster (``distributed.LocalCluster``) finds what the in-process run
finds. Needs the ``cluster`` extra (``pip install '.[cluster]'``); skipped without it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gongzhi.modules.pv import pipeline
from gongzhi.modules.pv.outcome import FlightOutcome

from .flights import tiny_flight

distributed = pytest.importorskip(
    "distributed", reason="the 'cluster' extra (dask, distributed) is not installed: Dask run not tested"
)


def keys(outcome: FlightOutcome) -> list[tuple[str, str, str, int]]:
    return sorted((f.module_id, f.anomaly_class, f.severity, f.frames_seen) for f in outcome.findings)


def test_a_local_dask_cluster_finds_what_the_in_process_run_finds(tmp_path: Path) -> None:
    flight = tiny_flight(tmp_path / "flight", frames=8)
    layout = flight.synthetic.layout
    local = pipeline.analyse_flight(flight.frames, layout, irradiance_w_m2=850, camera="M3T")
    assert local.findings
    seen: list[int] = []
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = pipeline.analyse_flight_on_cluster(
            flight.frames,
            layout,
            client,
            irradiance_w_m2=850,
            camera="M3T",
            chunk_size=3,
            progress=lambda done, _total: seen.append(done),
        )
    assert keys(remote) == keys(local)
    assert [m.module_id for m in remote.modules] == [m.module_id for m in local.modules]
    assert seen[-1] == len(flight.frames) and len(seen) == 3
