"""One owner of the result schema: replay, the session log and the library agree on the
counters of retrostep.schema, so a new counter is added in one place."""

import dataclasses

from retrostep import schema, units
from retrostep.analysis.library import Session, read_session
from retrostep.analysis.replay import replay_trace
from retrostep.analysis.report import SUMMARY_COLUMNS
from retrostep.firmware import gait
from retrostep.formats.logdecode import decode_file, to_result
from retrostep.sim import corpus, demolog


def test_replay_and_the_log_give_every_counter_in_schema_order():
    trace, _ = corpus.make_case("sidestep_left_right")
    replayed = replay_trace(trace)
    logged = to_result(decode_file(demolog.bundled_session_path()))
    for res in (replayed, logged):
        assert [k for k in res if k in schema.COUNTERS] == list(schema.COUNTERS)
        assert res["steps"] == (res["forward_steps"] + res["backward_steps"]
                                + res["sideways_steps"])
        assert res["strides"] == (res["forward_strides"] + res["backward_strides"]
                                  + res["sideways_strides"])
    assert replayed["sideways_strides"] > 10


def test_a_log_cut_short_counts_from_its_events_like_the_engine():
    raw = [(gait.EV_STRIDE, 10, gait.FORWARD, 0, 0, 0, 0, 0),
           (gait.EV_STRIDE, 20, gait.BACKWARD, 0, 0, 0, 0, 0),
           (gait.EV_STRIDE, 30, gait.SIDEWAYS, 0, 0, 0, 0, 0),
           (gait.EV_DRIFT, 31, 0, 1, 0, 0, 0, 0)]
    c = schema.counts_from_events(raw)
    assert c == {"steps": 6, "strides": 3, "forward_steps": 2, "backward_steps": 2,
                 "forward_strides": 1, "backward_strides": 1, "drift_alerts": 1,
                 "sideways_steps": 2, "sideways_strides": 1}


def test_the_library_and_the_export_carry_every_counter():
    fields = {f.name for f in dataclasses.fields(Session)}
    assert set(schema.COUNTERS) <= fields
    assert set(schema.COUNTERS) <= set(SUMMARY_COLUMNS)
    s, res = read_session(demolog.bundled_session_path())
    assert {k: getattr(s, k) for k in schema.COUNTERS} == {k: res[k] for k in schema.COUNTERS}


def test_add_counts_sums_and_treats_missing_as_zero():
    total = schema.add_counts({}, {"steps": 4, "strides": 2})
    total = schema.add_counts(total, {"steps": 2, "drift_alerts": None})
    assert total["steps"] == 6 and total["strides"] == 2 and total["drift_alerts"] == 0
    assert set(total) == set(schema.COUNTERS)


def test_binary_angles_convert_one_way_and_back():
    assert units.bam16_to_deg(16384) == 90.0
    assert units.deg_to_bam16(-90) == 49152
    assert units.deg_to_bam16(units.bam16_to_deg(12345)) == 12345
    assert abs(units.signed_deg(358.2) + 1.8) < 1e-9
    assert units.signed_deg(180.0) == 180.0 and units.signed_deg(-180.0) == 180.0


def test_one_sign_convention_engine_labels_and_heading_agree():
    """+ is to the left: a backward walk whose heading curves left (+) takes the walker
    to their right, so the engine's lateral offset ends negative, as the simulator's
    ground truth does."""
    trace, labels = corpus.make_case("bwd_curve_left")
    strides = [e for e in replay_trace(trace)["events"] if e["type"] == "stride"]
    assert strides[-1]["heading_deg"] > 45
    assert strides[-1]["lateral_offset_m"] < -1.0
    assert labels["drift"]["lateral_offset_m"][-1][1] < -1.0
    assert all(-180 < e["heading_deg"] <= 180 for e in strides)
    assert schema.side_of(strides[-1]["lateral_offset_m"]) == "right"
