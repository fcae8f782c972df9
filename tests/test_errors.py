"""A domain error's detail made with ``msg``: its English text everywhere a string goes, plus the
catalogue id and parameters the console translates it from."""

from __future__ import annotations

import json
import pickle

import pytest

from gongzhi.errors import InvalidInput, Message, msg


def test_a_message_is_its_english_text_and_remembers_how_it_was_made() -> None:
    m = msg("inspection %(inspection_id)s is %(status)s; wait", inspection_id=12, status="running")
    assert m == "inspection 12 is running; wait" and isinstance(m, str)
    assert m.template == "inspection %(inspection_id)s is %(status)s; wait"
    assert m.params == {"inspection_id": 12, "status": "running"}
    exc = InvalidInput(m)
    assert str(exc) == exc.detail == "inspection 12 is running; wait"
    assert json.dumps({"detail": exc.detail}) == '{"detail": "inspection 12 is running; wait"}'


def test_a_message_formats_as_the_f_string_it_replaced() -> None:
    key, low, high = "east", 0.5, 2.0
    assert msg("%(key)r is outside %(low)g … %(high)g", key=key, low=low, high=high) == (
        f"{key!r} is outside {low:g} … {high:g}"
    )


def test_a_percent_sign_is_literal_without_parameters_and_doubled_with_them() -> None:
    assert msg("at most 100 %") == "at most 100 %"
    assert msg("at most %(n)s %%", n=100) == "at most 100 %"


def test_a_message_survives_pickling_with_its_template_and_parameters() -> None:
    m = pickle.loads(pickle.dumps(msg("no case %(case_id)s", case_id=7)))
    assert isinstance(m, Message) and m == "no case 7"
    assert (m.template, dict(m.params)) == ("no case %(case_id)s", {"case_id": 7})
    exc = pickle.loads(pickle.dumps(InvalidInput(msg("no case %(case_id)s", case_id=7))))
    assert isinstance(exc.detail, Message) and exc.detail.params == {"case_id": 7}


def test_a_parameter_the_template_does_not_name_is_refused_when_the_message_is_made() -> None:
    with pytest.raises(KeyError):
        msg("no case %(case_id)s", id=7)
