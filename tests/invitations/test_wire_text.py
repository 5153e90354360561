"""The wire's string field (invitations.kinds.Text) takes and refuses exactly what DRF's CharField does."""
from __future__ import annotations

from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from rest_framework import serializers

from invitations.kinds import Text

OPTIONS = st.fixed_dictionaries({}, optional={
    "max_length": st.integers(min_value=1, max_value=8),
    "min_length": st.integers(min_value=1, max_value=3),
    "allow_blank": st.booleans(),
    "trim_whitespace": st.booleans(),
})
VALUES = st.one_of(
    st.text(max_size=10),
    st.text(alphabet=st.sampled_from(["a", " ", "\t", "\x00", "\ud800", "é", "\u2003"]), max_size=10),
    st.integers(), st.floats(allow_nan=False), st.booleans(), st.none(), st.lists(st.text(max_size=2), max_size=2),
)


def _outcome(field: serializers.CharField, value: Any) -> tuple[str, Any]:
    try:
        return "valid", field.run_validation(value)
    except serializers.ValidationError as e:
        return "refused", [str(d) for d in e.detail]


@settings(max_examples=400, deadline=None)
@given(options=OPTIONS, value=VALUES)
@example(options={"max_length": 3}, value="abcd")
@example(options={}, value=" padded ")
@example(options={}, value="nul\x00")
@example(options={}, value="\ud800")
@example(options={"allow_blank": True}, value="   ")
@example(options={}, value=12)
def test_text_takes_and_refuses_what_charfield_does(options: dict[str, Any], value: Any) -> None:
    assert _outcome(Text(**options), value) == _outcome(serializers.CharField(**options), value)
