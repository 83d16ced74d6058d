"""Token programs (hermes_hw/timeline/program.py): a program run on a timeline adds exactly the
events the same calls make directly, in C and in Python; expected times are hand-computed."""

from __future__ import annotations

import pytest

from hermes_hw.timeline.events import Timeline, category_index
from hermes_hw.timeline.program import ParamList, ProgramBuilder, _core, run_program

COLUMNS = ("lane_idx", "names", "cat_idx", "starts", "ends", "phases", "tokens", "layers",
           "preds", "args")
FC, COMM = category_index("fc"), category_index("communication")


def _token(tl, start: int, token: int, attn: list[float]) -> int:
    """A small token: a join over a group, a not-before hop, a NO_EVENT dependency."""
    a, b = tl.lane_id("dimm0"), tl.lane_id("dimm1")
    g = tl.add_on(tl.lane_id("gpu"), 5.0, "g", FC, [start], 0.0, "decode", token, 0, None)
    grp = tl.add_group([a, b], ParamList("attn", attn), "attn", FC, [[start], [g, -1]], token,
                       0, ParamList("args", [{"j": 0}, {"j": 1}]))
    j = tl.join(grp)
    h = tl.add("dimmlink.0->1", 2.0, name="hop", category="communication", deps=[j],
               token=token, layer=0)
    h2 = tl.add("dimmlink.1->2", 2.0, name="hop", category="communication",
                not_before_ns=tl.start_of(h) + 1.0, token=token, layer=0)
    return tl.add_on(tl.lane_id("gpu"), 1.0, "end", COMM, [j, h2], 0.0, "decode", token, -1,
                     None)


def _direct(n_tokens: int) -> Timeline:
    tl = Timeline()
    end = tl.add("host", 3.0, name="prefill", category="prefill", phase="prefill")
    for t in range(n_tokens):
        end = _token(tl, end, t, [10.0 + t, 4.0])
    return tl


def _programmed(n_tokens: int, use_c: bool) -> Timeline:
    tl = Timeline()
    end = tl.add("host", 3.0, name="prefill", category="prefill", phase="prefill")
    pb = ProgramBuilder(tl, 0)
    prog = pb.finish(_token(pb, ProgramBuilder.START, 0, [10.0, 4.0]))
    for t in range(n_tokens):
        p = {"attn": [10.0 + t, 4.0], "args": [{"j": 0}, {"j": 1}]}
        end = run_program(tl, prog, end, t, p, use_c=use_c)
    return tl


@pytest.mark.parametrize("use_c", [False, True])
def test_program_adds_the_events_the_calls_add(use_c):
    if use_c and _core() is None:
        pytest.skip("timeline core not built")
    a, b = _direct(3), _programmed(3, use_c)
    for col in COLUMNS:
        assert getattr(a, col) == getattr(b, col), col
    # token 0 by hand: prefill ends 3; g 3-8; attn on dimm0 3-13 (after the start), on dimm1
    # 8-12 (after g); the join is dimm0's event (ends 13); hop 13-15; the second hop not
    # before 13 + 1 = 14, on its own lane: 14-16; "end" on the GPU after 16 (critical: hop 2)
    assert b.starts[1:7] == [3.0, 3.0, 8.0, 13.0, 14.0, 16.0]
    assert b.ends[1:7] == [8.0, 13.0, 12.0, 15.0, 16.0, 17.0]
    assert b.preds[1:7] == [0, 0, 1, 2, -1, 5]
    assert b.tokens[7:13] == [1] * 6 and b.args[8] == {"j": 0}


def test_program_refuses_what_it_cannot_replay():
    tl = Timeline()
    pb = ProgramBuilder(tl, 4)
    with pytest.raises(ValueError, match="token 5"):
        pb.add("gpu", 1.0, name="x", category="fc", token=5)
    with pytest.raises(ValueError, match="not-before"):
        pb.add("gpu", 1.0, name="x", category="fc", token=4, not_before_ns=7.0)
    pb.add("gpu", -1.0, name="bad", category="fc", token=4)
    with pytest.raises(ValueError, match="negative duration"):
        pb.finish(1)
