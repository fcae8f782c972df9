from __future__ import annotations

from pathlib import Path

import gongzhi
from gongzhi.web import form_labels, labels

PACKAGE = Path(gongzhi.__file__).resolve().parent


def test_a_templates_labels_are_read_by_the_controls_they_label() -> None:
    template = """
    <div class="field"><label for="n-tilt">{{ _("Tilt (°)") }}</label><input id="n-tilt" name="tilt_deg">
    <label for="text">{{ _("Your opinion") }} *</label><textarea name="text" id="text"></textarea>
    <label for="r-{{ r.id }}">{{ _("Role") }}</label><select id="r-{{ r.id }}" name="role"></select>
    <label class="check"><input type="checkbox" name="dry_run" value="true"> {{ _("Check only") }}</label>
    <fieldset><legend>{{ _("Sharing") }}</legend>
      <label><input type="radio" name="sharing" value="private"> {{ _("This region only") }}</label>
      <label><input type="radio" name="sharing" value="pairs"> {{ _("All paired regions") }}</label>
      <label for="f-note">{{ _("Note") }}</label><input id="f-note" name="note">
    </fieldset>
    <label for="u-1" class="sr-only">{{ _("Department of %(name)s", name=u.username) }}</label>
    <select id="u-1" name="department_id"></select>
    <label for="nowhere">{{ _("Orphan") }}</label>
    """
    assert sorted(form_labels.labels_of(template)) == [
        ("dry_run", "Check only"),
        ("note", "Note"),  # its own label, not the fieldset's legend
        ("role", "Role"),
        ("sharing", "Sharing"),  # a radio group by its legend, not by its options
        ("text", "Your opinion"),
        ("tilt_deg", "Tilt (°)"),
    ]


def test_a_key_labelled_differently_takes_the_label_most_forms_give_it(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text(
        '<label for="a">{{ _("Note (optional)") }}</label><input id="a" name="note">'
    )
    (tmp_path / "b.html").write_text('<label for="b">{{ _("Note") }}</label><input id="b" name="note">')
    (tmp_path / "c.html").write_text('<label for="c">{{ _("Note") }}</label><input id="c" name="note">')
    assert form_labels.field_labels([tmp_path]) == {"note": "Note"}
    (tmp_path / "c.html").unlink()  # one each: the shorter
    assert form_labels.field_labels([tmp_path]) == {"note": "Note"}


def test_every_control_a_person_fills_in_on_the_console_is_labelled() -> None:
    """A new form's field with no label the reader can find would be named by its key in an error."""
    known = labels.form_field_labels()
    unlabelled = set()
    for path in PACKAGE.rglob("*.html"):
        for attrs in form_labels.controls_of(path.read_text(encoding="utf-8")):
            name = attrs.get("name", "")
            if (
                name
                and "{{" not in name
                and attrs.get("type") not in ("hidden", "submit")
                and name not in known
            ):
                unlabelled.add((path.relative_to(PACKAGE).as_posix(), name))
    assert not unlabelled
    assert len(known) >= 120  # the package's forms: 132 keys when written
