"""``gongzhi pv plan|synth|inspect`` from files alone, through the real ``gongzhi`` command."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
import socket
import zipfile
from pathlib import Path

import numpy as np
import pytest
from openpyxl import load_workbook
from PIL import Image
from typer.testing import CliRunner, Result

from gongzhi.modules.pv import analysis_adapter as adapter
from gongzhi.modules.pv import report
from gongzhi.modules.pv.analytics.layout import LayoutParams, generate_layout
from gongzhi.modules.pv.analytics.synthetic import synthetic_flight
from gongzhi.modules.pv.cli import app
from gongzhi.modules.pv.io.plant import read_plant_geojson, write_plant_geojson
from gongzhi.modules.pv.io.synthetic_files import read_truth
from gongzhi.modules.pv.io.tiff import write_frame_tiff

from .flights import tiny_flight
from .kml_check import placemarks, valid
from .shapes import rectangle

runner = CliRunner()


def said(result: Result) -> str:
    """The command's output with Rich's line wrapping undone."""
    return " ".join(result.output.split())


def roof_file(tmp_path: Path, width: float = 40, height: float = 24) -> Path:
    ring = [list(p) for p in rectangle(width, height)]
    path = tmp_path / "roof.geojson"
    path.write_text(json.dumps({"type": "Polygon", "coordinates": [[*ring, ring[0]]]}))
    return path


def plant_file(tmp_path: Path, width: float = 40, height: float = 24) -> Path:
    layout = generate_layout(rectangle(width, height), LayoutParams(setback_m=0.5), name="屋顶")
    path = tmp_path / "plant.geojson"
    write_plant_geojson(layout, path)
    return path


def test_plan_writes_a_qgc_plan_and_a_dji_kmz_and_prints_the_summary(tmp_path: Path) -> None:
    plan = tmp_path / "roof.plan"
    r = runner.invoke(
        app, ["plan", "--plant", str(plant_file(tmp_path)), "--camera", "M3T", "--out", str(plan)]
    )
    assert r.exit_code == 0, r.output
    assert "images" in r.output and "gsd cm" in r.output
    assert json.loads(plan.read_text())["fileType"] == "Plan"
    kmz = tmp_path / "roof.kmz"
    args = [
        "plan",
        "--plant",
        str(roof_file(tmp_path)),
        "--camera",
        "H20T",
        "--altitude",
        "35",
        "--out",
        str(kmz),
    ]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "35.0" in r.output
    assert "wpmz/waylines.wpml" in zipfile.ZipFile(kmz).namelist()
    r = runner.invoke(app, [*args[:5], "--gimbal-pitch", "-60", "--out", str(plan)])
    assert r.exit_code == 0, r.output
    assert "gimbal pitch deg" in r.output and "-60.0" in r.output and "view ahead m" in r.output
    items = json.loads(plan.read_text())["mission"]["items"]
    assert [i["params"][0] for i in items if i["command"] == 1000] == [-60.0]


def test_plan_takes_a_course_or_the_fewest_turns_instead_of_lines_across_the_rows(tmp_path: Path) -> None:
    plant, out = str(plant_file(tmp_path)), str(tmp_path / "roof.plan")
    r = runner.invoke(app, ["plan", "--plant", plant, "--line-azimuth", "45", "--out", out])
    assert r.exit_code == 0, r.output
    assert re.search(r"line azimuth deg\s+│\s+45\.0", r.output), r.output
    r = runner.invoke(app, ["plan", "--plant", plant, "--fewest-turns", "--out", out])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["plan", "--plant", plant, "--fewest-turns", "--line-azimuth", "45", "--out", out])
    assert r.exit_code == 1 and "not both" in said(r), r.output


def test_plan_refuses_bad_input_with_a_message(tmp_path: Path) -> None:
    roof = str(roof_file(tmp_path))
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "Point", "coordinates": [1, 2]}')
    for args, message in [
        (["--plant", roof, "--out", str(tmp_path / "x.txt")], ".plan"),
        (["--plant", roof, "--camera", "X9", "--out", str(tmp_path / "x.plan")], "unknown camera"),
        (["--plant", str(bad), "--out", str(tmp_path / "x.plan")], "Polygon"),
        (["--plant", roof, "--gsd", "3", "--altitude", "20", "--out", str(tmp_path / "x.plan")], "not both"),
    ]:
        r = runner.invoke(app, ["plan", *args])
        assert r.exit_code == 1 and message in said(r), r.output


def test_synth_writes_frames_the_readers_read_back_with_plant_and_ground_truth(tmp_path: Path) -> None:
    out = tmp_path / "flight"
    args = ["synth", "--plant", str(roof_file(tmp_path)), "--seed", "3", "--frames", "3", "--out", str(out)]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.glob("*.tif")) == ["frame-0000.tif", "frame-0001.tif", "frame-0002.tif"]
    truth = read_truth(out)
    layout = read_plant_geojson(out / "plant.geojson")
    assert truth and all(mid in {m.id for m in layout.modules} for mid, _ in truth)
    frame = adapter.read(out / "frame-0001.tif")
    again = synthetic_flight(layout, seed=3).frame(1)
    assert np.array_equal(frame.temperature_c, again.temperature_c)
    assert frame.meta.lat == pytest.approx(again.meta.lat) and frame.meta.model == again.meta.model


def test_synth_lays_the_modules_out_on_a_plant_files_roof_when_it_has_none(tmp_path: Path) -> None:
    """A plant FeatureCollection holding only its roof (``kind: roof``) is an outline: the modules are laid
    out on it, as for a bare polygon, and the user is told (it used to fail deep in the analysis)."""
    ring = [list(p) for p in rectangle(40, 24)]
    roof = {"type": "Feature", "properties": {"kind": "roof"},
            "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}}  # fmt: skip
    path = tmp_path / "roof-only.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [roof]}))
    out = tmp_path / "flight"
    r = runner.invoke(app, ["synth", "--plant", str(path), "--seed", "3", "--frames", "2", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "the plant has no modules; they are laid out on its roof" in said(r)
    assert read_plant_geojson(out / "plant.geojson").modules


@pytest.mark.parametrize(
    ("frame_format", "suffix", "within_k"), [("tiff-ck", ".tif", 0.006), ("flir", ".jpg", 0.03)]
)
def test_synth_writes_frames_as_centikelvin_tiff_or_flir_jpeg_that_read_back_as_the_flight(
    tmp_path: Path, frame_format: str, suffix: str, within_k: float
) -> None:
    out = tmp_path / "flight"
    args = ["synth", "--plant", str(roof_file(tmp_path)), "--seed", "3", "--frames", "2", "--out", str(out)]
    r = runner.invoke(app, [*args, "--format", frame_format])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir() if p.suffix in (".tif", ".jpg")) == [
        f"frame-0000{suffix}",
        f"frame-0001{suffix}",
    ]
    assert json.loads((out / "flight.json").read_text())["frame_format"] == frame_format
    frame = adapter.read(out / f"frame-0001{suffix}")
    again = synthetic_flight(read_plant_geojson(out / "plant.geojson"), seed=3).frame(1)
    assert np.nanmax(np.abs(frame.temperature_c - again.temperature_c)) < within_k  # rounding only
    assert frame.meta.lat == pytest.approx(again.meta.lat) and frame.meta.model == again.meta.model
    bad = runner.invoke(app, [*args, "--format", "png"])
    assert bad.exit_code != 0 and "png" in said(bad)


def test_synth_writes_frames_as_a_real_dji_cameras_r_jpegs_and_refuses_what_it_cannot_copy(
    tmp_path: Path, dji_program: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--format dji --dji-template`` writes each frame as the template camera's R-JPEG (its counts and
    pose, :mod:`.io.dji_writer`); without a template, with one that is no DJI R-JPEG or of another
    raster, or with a template but another format, a clear error and no frame."""
    from .test_thermal_real_files import THERMAL

    m3t, h30t, flir = (THERMAL / n for n in ("M3T_DJI_0001_R.JPG", "H30T_DJI_0001_R.JPG", "FLIR_T640.jpg"))
    if not (m3t.is_file() and h30t.is_file() and flir.is_file()):
        pytest.skip(f"real thermal samples are absent from {THERMAL}")
    monkeypatch.setenv("GONGZHI_DJI_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "flight"
    args = ["synth", "--plant", str(roof_file(tmp_path)), "--seed", "3", "--frames", "2", "--out", str(out)]
    r = runner.invoke(app, [*args, "--format", "dji", "--dji-template", str(m3t)])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.glob("frame-*")) == ["frame-0000.jpg", "frame-0001.jpg"]
    assert json.loads((out / "flight.json").read_text())["frame_format"] == "dji"
    frame = adapter.read(out / "frame-0001.jpg")
    again = synthetic_flight(read_plant_geojson(out / "plant.geojson"), seed=3).frame(1)
    assert frame.meta.extra["temperatures_by"] == "dji-thermal-cli" and frame.meta.model == "M3T"
    assert np.nanmax(np.abs(frame.temperature_c - again.temperature_c)) < 0.05  # the M3T's 0.08 K steps
    assert frame.meta.lat == pytest.approx(again.meta.lat)
    for extra, words in (
        (["--format", "dji"], "needs --dji-template"),
        (["--dji-template", str(m3t)], "goes with --format dji"),
        (["--format", "dji", "--dji-template", str(flir)], "no DJI APP3 thermal raster"),
        (["--format", "dji", "--dji-template", str(h30t)], "1280×1024 H30T file"),
        (["--format", "dji", "--dji-template", str(tmp_path / "none.JPG")], "No such file"),
    ):
        again_out = tmp_path / f"refused-{len(words)}"
        bad = runner.invoke(app, [*args[:-1], str(again_out), *extra])
        assert bad.exit_code == 1 and words in said(bad), (extra, bad.output)
        assert not list(again_out.glob("frame-*"))


def test_inspect_uses_a_process_per_core_unless_told_and_refuses_a_negative_count(tmp_path: Path) -> None:
    flight = tiny_flight(tmp_path / "flight", frames=4)
    plant = str(flight.folder / "plant.geojson")

    def inspect(out: str, *more: str) -> Result:
        return runner.invoke(app, ["inspect", str(flight.folder), "--plant", plant, "--out", out, *more])

    r = inspect(str(tmp_path / "a"))
    cores = len(os.sched_getaffinity(0))
    assert r.exit_code == 0 and f"4 frames, {cores} process" in r.output, r.output
    r = inspect(str(tmp_path / "b"), "--workers", "1")
    assert r.exit_code == 0 and "4 frames, 1 process\n" in r.output, r.output
    r = inspect(str(tmp_path / "c"), "--workers", "-1")
    assert r.exit_code == 1 and "--workers must be 0 (one per CPU core) or more, got -1" in r.output
    assert not (tmp_path / "c").exists()


def test_inspect_names_the_modules_as_the_positioning_asked_for_and_refuses_an_unknown_one(
    tmp_path: Path,
) -> None:
    flight = tiny_flight(tmp_path / "flight", frames=4)  # its frames say they are an RTK fix
    plant = str(flight.folder / "plant.geojson")

    def inspect(out: str, *more: str) -> Result:
        return runner.invoke(
            app, ["inspect", str(flight.folder), "--plant", plant, "--out", out, "--workers", "1", *more]
        )

    r = inspect(str(tmp_path / "auto"))
    summary = json.loads((tmp_path / "auto" / "summary.json").read_text())
    assert r.exit_code == 0, r.output
    assert summary["positions"] == {"rtk_fixed": 4, "not_fixed": 0, "unknown": 0}
    assert summary["frames_named_without_rtk"] == 0 and "without RTK" not in r.output
    r = inspect(str(tmp_path / "gnss"), "--positioning", "gnss")
    summary = json.loads((tmp_path / "gnss" / "summary.json").read_text())
    assert r.exit_code == 0 and summary["frames_named_without_rtk"] == 4, r.output
    assert "module names without RTK, as asked: 4 frames" in r.output
    r = inspect(str(tmp_path / "bad"), "--positioning", "ppk")
    assert r.exit_code == 1 and "unknown positioning 'ppk'; known: auto, rtk, gnss" in r.output
    assert not (tmp_path / "bad" / "summary.json").exists()


def test_inspect_reads_a_synthetic_flight_back_and_writes_per_module_results(tmp_path: Path) -> None:
    flight = tiny_flight(tmp_path / "flight", frames=6)
    out = tmp_path / "results"
    plant = str(flight.folder / "plant.geojson")
    r = runner.invoke(
        app, ["inspect", str(flight.folder), "--plant", plant, "--out", str(out), "--workers", "2"]
    )
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["iec_compliant"] is True  # the irradiance came from flight.json
    assert summary["frames"] == 6 and summary["findings"] == len(summary["findings_list"]) > 0
    truth = {(a.module_id, a.anomaly.value) for a in flight.synthetic.anomalies}
    found = {(f["module_id"], f["anomaly_class"]) for f in summary["findings_list"]}
    assert found & truth and len(found & truth) >= 0.8 * len(found)
    # what the findings cost: the share of each one's module (a third for a substring, all of an offline
    # one, else its band's), none for shade, soiling and vegetation
    lost = {"substring": 1 / 3, "module_offline": 1.0, "string_offline": 1.0}
    band = {"S1": 0.15, "S2": 0.3, "S3": 0.6}
    listed = summary["findings_list"]
    passing = [f for f in listed if f["anomaly_class"] in ("shading", "soiling", "vegetation")]
    worth = sum(lost.get(f["anomaly_class"], band[f["severity"]]) for f in listed if f not in passing)
    n = len(flight.synthetic.layout.modules)
    said = f"estimated loss: about {worth:.1f} modules' worth of power ({100 * worth / n:.2f} % of {n})"
    assert worth > 0 and said in " ".join(r.output.split())
    assert f"vegetation ({len(passing)}) not estimated" in " ".join(r.output.split())
    features = json.loads((out / "results.geojson").read_text())["features"]
    assert len(features) == len(flight.synthetic.layout.modules)
    assert all(f["geometry"]["type"] == "Polygon" for f in features)
    with (out / "results.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert {row["module_id"] for row in rows if row["severity"]} == {m for m, _ in found}
    # whether each finding's ΔT is only a lower bound (its pattern under the camera's measurement spot)
    bounded = {f["module_id"] for f in summary["findings_list"] if f["details"].get("delta_t_lower_bound")}
    assert {row["module_id"] for row in rows if row["delta_t_lower_bound"] == "True"} == bounded
    assert bounded == {m for m, c in found if c == "hot_spot"} != set()
    # and the findings for a field crew's map: a placemark per module with a finding
    data = (out / "findings.kml").read_bytes()
    valid(data)
    assert {p.name for ps in placemarks(data).values() for p in ps} == {m for m, _ in found}
    # and as KMZ, each placemark with its thermal crop from the flight's frames
    with zipfile.ZipFile(out / "findings.kmz") as kmz:
        assert kmz.read("doc.kml").startswith(b"<?xml") and kmz.namelist()[0] == "doc.kml"
        crops = {n: kmz.read(n) for n in kmz.namelist()[1:]}
    assert set(crops) == {f"files/{m}-ir.png" for m, _ in found}
    assert {Image.open(io.BytesIO(png)).size for png in crops.values()} == {(128, 128)}
    # and as the platform's findings workbook: a row per finding, each module's worst with its crop
    book = load_workbook(out / "findings.xlsx")
    sheet = book["缺陷清单"]
    listed = list(sheet.iter_rows(min_row=2, values_only=True))
    assert sorted((r[1], r[3]) for r in listed) == sorted(
        (f["module_id"], report.class_name(f["anomaly_class"], "zh-CN")) for f in summary["findings_list"]
    )
    assert all(r[2] for r in listed)  # each module's string, from the plant file
    assert len(sheet._images) == len({m for m, _ in found})
    overview = {r[0]: r[1] for r in book["巡检概况"].iter_rows(values_only=True) if r[0]}
    assert overview["图像"] == "6 / 6 帧已分析" and overview["IEC TS 62446-3"] == "符合 IEC TS 62446-3"
    assert {row["delta_t_lower_bound"] for row in rows if not row["severity"]} == {""}
    # a visible photo beside its thermal frame is paired with it, not read as a frame; that frame, a plain
    # photo, is skipped (and its photo with it)
    photo = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 160)).save(photo, "JPEG")
    for name in ("DJI_0009_T.JPG", "DJI_0009_W.JPG"):
        (flight.folder / name).write_bytes(photo.getvalue())
    low = runner.invoke(
        app, ["inspect", str(flight.folder), "--plant", plant, "--out", str(out), "--irradiance", "400"]
    )
    assert low.exit_code == 0 and "not" in low.output
    assert "1 visible-light photos (" in low.output and "skipped DJI_0009_T.JPG" in low.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["iec_compliant"] is False and summary["frames"] == 7
    assert (summary["frames_oblique"], summary["gimbal_pitch_deg"]) == (0, None)  # straight down
    skipped = [(x["file"], x["reason"]) for x in summary["frames_skipped"]]
    assert skipped == [("DJI_0009_T.JPG", "not_radiometric")]


def test_inspect_puts_the_photo_of_each_findings_frame_in_the_kmz_beside_its_thermal_crop(
    tmp_path: Path,
) -> None:
    flight = tiny_flight(tmp_path / "flight", seed=3, visible=True)
    plant = str(flight.folder / "plant.geojson")
    out = tmp_path / "results"
    r = runner.invoke(app, ["inspect", str(flight.folder), "--plant", plant, "--out", str(out)])
    assert r.exit_code == 0, r.output
    findings = json.loads((out / "summary.json").read_text())["findings_list"]
    worst = {f["module_id"] for f in findings}
    assert worst and "photo crops where the frames have photos" in said(r)
    with zipfile.ZipFile(out / "findings.kmz") as kmz:
        files = {n: kmz.read(n) for n in kmz.namelist()[1:]}
        doc = kmz.read("doc.kml").decode()
    assert set(files) == {f"files/{m}-{kind}.png" for m in worst for kind in ("ir", "photo")}
    assert len(load_workbook(out / "findings.xlsx")["缺陷清单"]._images) == 2 * len(worst)  # both, a row
    for m in worst:
        ir, photo = (Image.open(io.BytesIO(files[f"files/{m}-{kind}.png"])) for kind in ("ir", "photo"))
        assert ir.size == photo.size == (128, 128)
        # the photo's own colours (the synthetic wide photo's glass and roof), not the IR palette's
        assert ir.convert("RGB").tobytes() != photo.convert("RGB").tobytes()
        assert f'src="files/{m}-photo.png"' in doc.replace("&quot;", '"')
    # a photo that cannot be registered onto its frame is left out with its reason; its crop stays
    for photo_path in flight.photos:
        photo_path.write_bytes(b"\xff\xd8 not a photo")
    again = runner.invoke(app, ["inspect", str(flight.folder), "--plant", plant, "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert "findings.kmz:" in said(again) and "left out: unreadable" in said(again)
    with zipfile.ZipFile(out / "findings.kmz") as kmz:
        assert set(kmz.namelist()[1:]) == {f"files/{m}-ir.png" for m in worst}


def test_inspect_refuses_a_flight_that_sees_no_module_of_the_plant_saying_how_far_it_was(
    tmp_path: Path,
) -> None:
    flight = tiny_flight(tmp_path / "flight", frames=3)
    layout = flight.synthetic.layout
    far = dataclasses.replace(
        layout, origin=dataclasses.replace(layout.origin, lat0_deg=layout.origin.lat0_deg + 0.02)
    )
    write_plant_geojson(far, tmp_path / "elsewhere.geojson")
    out = tmp_path / "results"
    r = runner.invoke(app, ["inspect", str(flight.folder), "--plant", str(tmp_path / "elsewhere.geojson"),
                            "--out", str(out)])  # fmt: skip
    assert r.exit_code != 0 and not (out / "summary.json").exists()
    assert "none of the 3 frames read sees a module of the plant: the nearest was taken 2.2 km" in said(r)


def test_inspect_learned_puts_the_shipped_network_behind_the_rules_in_every_worker(tmp_path: Path) -> None:
    """``--learned``: the network may rename what the rules found, never finds a module the rules passed,
    and the summary says it was used; the pool's workers run it too.

    One process and two workers need not agree with it: the split restarts the running pose correction,
    which moves the maps a little, and the network's confidence near its threshold moves with them (here
    one module's views tip from soiling to shading) where the rules' classes do not."""
    flight = tiny_flight(tmp_path / "flight", frames=6)
    plant = str(flight.folder / "plant.geojson")

    def found(*extra: str) -> tuple[dict[str, str], list[str]]:
        out = tmp_path / f"results{len(extra)}-{'-'.join(extra)}"
        r = runner.invoke(app, ["inspect", str(flight.folder), "--plant", plant, "--out", str(out), *extra])
        assert r.exit_code == 0, r.output
        summary = json.loads((out / "summary.json").read_text())
        return {f["module_id"]: f["anomaly_class"] for f in summary["findings_list"]}, [
            n["message"] for n in summary["notes"]
        ]

    rules, rules_notes = found()
    learned, notes = found("--learned", "--min-confidence", "0.5")
    assert learned and set(learned) <= set(rules)
    assert not any("learned crop classifier" in n for n in rules_notes)
    assert any("learned crop classifier is at least 0.50 confident" in n for n in notes)
    rules2, _ = found("--workers", "2")
    learned2, notes2 = found("--learned", "--min-confidence", "0.5", "--workers", "2")
    assert rules2 == rules and notes2 == notes
    assert {m for m in learned2.keys() & rules2.keys() if learned2[m] != rules2[m]}  # renamed in the workers
    bad = runner.invoke(
        app, ["inspect", str(flight.folder), "--plant", plant, "--out", str(tmp_path / "x"), "--learned",
              "--min-confidence", "1.5"]
    )  # fmt: skip
    assert bad.exit_code != 0 and "between 0 and 1" in said(bad)


def test_an_oblique_flight_is_written_read_back_and_inspected_on_its_plant(tmp_path: Path) -> None:
    folder = tmp_path / "flight"
    plant = str(roof_file(tmp_path))
    args = ["synth", "--plant", plant, "--seed", "5", "--per-class", "1", "--out", str(folder)]
    r = runner.invoke(app, [*args, "--gimbal-pitch", "-60", "--visible"])
    assert r.exit_code == 0, r.output
    assert adapter.read(folder / "frame-0001_T.tif").meta.gimbal_pitch_deg == -60.0
    assert (folder / "frame-0001_W.jpg").is_file()  # its wide photo, looking where it looks
    out = tmp_path / "results"
    r = runner.invoke(
        app, ["inspect", str(folder), "--plant", str(folder / "plant.geojson"), "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["frames_oblique"], summary["gimbal_pitch_deg"]) == (summary["frames"], -60.0)
    assert summary["frames_with_visible"] == summary["frames"]  # the photos follow the frames' nadir views
    truth = set(read_truth(folder))
    found = {(f["module_id"], f["anomaly_class"]) for f in summary["findings_list"]}
    assert len(found & truth) >= 0.8 * len(truth) and len(found & truth) >= 0.9 * len(found)
    too_flat = runner.invoke(app, [*args, "--gimbal-pitch", "-10"])
    assert too_flat.exit_code != 0 and "less than or equal to" in said(too_flat) and "-30" in said(too_flat)


def test_inspect_without_a_plant_finds_the_modules_in_the_photos_and_their_anomalies(tmp_path: Path) -> None:
    flight = tiny_flight(tmp_path / "flight")
    out = tmp_path / "results"
    r = runner.invoke(app, ["inspect", str(flight.folder), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "no plant layout" in said(r)
    summary = json.loads((out / "summary.json").read_text())
    layout = flight.synthetic.layout
    assert 0.95 * len(layout.modules) <= summary["modules"] <= 1.15 * len(layout.modules)
    features = json.loads((out / "results.geojson").read_text())["features"]
    assert {f["geometry"]["type"] for f in features} == {"Point"}  # placed by GPS: X-00001…
    assert all(f["id"].startswith("X-") for f in features)
    centres = layout.centres_xy()
    found: dict[str, str] = {}
    for f in summary["findings_list"]:
        x, y = layout.origin.to_xy(f["lon"], f["lat"])
        found[layout.modules[int(np.argmin(np.hypot(*(centres - (x, y)).T)))].id] = f["anomaly_class"]
    planted = {a.module_id: a.anomaly.value for a in flight.synthetic.anomalies}
    right = {m for m, c in found.items() if planted.get(m) == c}
    assert len(right) >= 0.8 * len(planted) and len(right) >= 0.8 * len(found)
    with (out / "results.csv").open(encoding="utf-8-sig") as f:
        assert len(list(csv.DictReader(f))) == summary["modules"]


def test_inspect_without_a_plant_reports_photos_without_a_position_each_on_its_own(tmp_path: Path) -> None:
    flight = tiny_flight(tmp_path / "flight", frames=2)
    lost = tmp_path / "lost"
    lost.mkdir()
    for i, path in enumerate(flight.frames):
        frame = adapter.read(path)
        frame = dataclasses.replace(frame, meta=dataclasses.replace(frame.meta, lat=None, lon=None))
        write_frame_tiff(lost / f"photo-{i}.tif", frame)
    out = tmp_path / "results"
    r = runner.invoke(app, ["inspect", str(lost), "--out", str(out), "--module-type", "72"])
    assert r.exit_code == 0, r.output
    features = json.loads((out / "results.geojson").read_text())["features"]
    assert {f["id"][:5] for f in features} == {"F0000", "F0001"}
    assert all(f["geometry"] is None for f in features)  # RFC 7946: a feature with no place
    with (out / "results.csv").open(encoding="utf-8-sig") as f:
        assert {(row["lon"], row["lat"]) for row in csv.DictReader(f)} == {("", "")}
    findings = json.loads((out / "summary.json").read_text(), parse_constant=pytest.fail)["findings_list"]
    assert findings and {(f["lon"], f["lat"]) for f in findings} == {(None, None)}  # JSON has no NaN
    bad = runner.invoke(app, ["inspect", str(lost), "--out", str(out), "--module-type", "96"])
    assert bad.exit_code == 1 and "unknown module type '96'" in said(bad)


def test_inspect_refuses_a_folder_without_frames_and_unreadable_frames(tmp_path: Path) -> None:
    plant = str(plant_file(tmp_path))
    empty = tmp_path / "empty"
    empty.mkdir()
    r = runner.invoke(app, ["inspect", str(empty), "--plant", plant, "--out", str(tmp_path / "o")])
    assert r.exit_code == 1 and "no thermal frames" in said(r)
    (empty / "a.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    r = runner.invoke(app, ["inspect", str(empty), "--plant", plant, "--out", str(tmp_path / "o")])
    assert r.exit_code == 1 and "no frame of the flight could be read and analysed" in said(r)
    (empty / "b.tif").write_bytes(b"II*\x00 not really a tiff")
    r = runner.invoke(app, ["inspect", str(empty), "--plant", plant, "--out", str(tmp_path / "o")])
    assert "b.tif: TIFF raster cannot be read in full (cannot identify image file)" in said(r)
    assert "BytesIO" not in said(r)


def test_every_command_refuses_a_place_it_cannot_write_to_before_working(tmp_path: Path) -> None:
    plant = str(plant_file(tmp_path))
    blocked = tmp_path / "a-file"
    blocked.write_text("in the way")
    flight = tiny_flight(tmp_path / "flight", frames=1)
    for args in (
        ["plan", "--plant", plant, "--out", str(blocked / "roof.plan")],
        ["synth", "--plant", plant, "--frames", "1", "--out", str(blocked / "flight")],
        ["inspect", str(flight.folder), "--plant", plant, "--out", str(blocked / "results")],
        ["inspect", str(flight.folder), "--out", str(blocked / "results")],
    ):
        r = runner.invoke(app, args)
        assert r.exit_code == 1 and f"{blocked}" in said(r) and "cannot write" in said(r), (args, r.output)
        assert r.exception is None or isinstance(r.exception, SystemExit)
        assert "analysing frames" not in r.output and "rendering frames" not in r.output  # before the work


def test_dock_commands_refuse_bad_input_clearly(tmp_path: Path) -> None:
    broken = tmp_path / "roof.geojson"
    broken.write_text("{not json", encoding="utf-8")
    r = runner.invoke(app, ["dock-sim", "--dock", "D1", "--plant", str(broken)])
    assert r.exit_code == 1 and "not a readable GeoJSON file" in said(r)
    r = runner.invoke(
        app, ["dock-sim", "--dock", "D/1", "--plant", str(plant_file(tmp_path)), "--broker", "http://x"]
    )
    assert r.exit_code == 1 and "not an MQTT broker address" in said(r)


@pytest.mark.parametrize("command", ["robot-listen", "dock-listen"])
def test_the_listeners_say_clearly_when_they_cannot_listen(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gongzhi.settings import get_settings

    monkeypatch.setenv("GONGZHI_DATABASE_URL", f"sqlite:///{tmp_path / 'gz.db'}")
    monkeypatch.setenv("GONGZHI_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        r = runner.invoke(app, [command, "--broker", "http://127.0.0.1:1883"])
        assert r.exit_code == 1 and "not an MQTT broker address" in said(r)
        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        r = runner.invoke(app, [command, "--broker", f"mqtt://127.0.0.1:{port}"])
        assert r.exit_code == 1 and "is not reachable" in said(r)
    finally:
        get_settings.cache_clear()
