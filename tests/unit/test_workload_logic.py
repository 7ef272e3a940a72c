"""The jobs' pure parts: parameters, entrypoint arguments, the result record a job prints, the
content digest, the `_id` split points of mongo-partitioned and the ideal runtimes."""

import itertools
import json

import pytest
from bson import ObjectId

from ray101_jobs import common
from ray101_jobs.mongo_partitioned import split_points
from ray101_jobs.registry import workloads

WL = workloads()


def test_workloads_come_in_tutorial_order():
    assert list(WL) == ["sequential-retrieve", "parallel-retrieve", "task-dependencies",
                        "mongo-sequential", "mongo-parallel", "mongo-partitioned", "serve-echo",
                        "actor-counter"]


@pytest.mark.parametrize("pairs, message", [
    (["items"], "parameter 'items' is not in key=value form"),
    (["=3"], "parameter '=3' is not in key=value form"),
    (["colour=red"], "unknown parameter 'colour' for workload 'parallel-retrieve' "
                     "(known: fail, items, seconds)"),
    (["items=two"], "parameter 'items' must be an integer, not 'two'"),
    (["items=0"], "parameter 'items' must be >= 1, not 0"),
    (["seconds=nan"], "parameter 'seconds' must be a finite number, not 'nan'"),
    (["fail=perhaps"], "parameter 'fail' must be true or false, not 'perhaps'"),
])
def test_bad_parameters_are_one_clear_error(pairs, message):
    with pytest.raises(common.ParamError) as err:
        WL["parallel-retrieve"].parse_params(pairs)
    assert str(err.value) == message


def test_parameters_parse_over_the_defaults_and_round_trip_through_argv():
    wl = WL["parallel-retrieve"]
    params = wl.parse_params(["items = 12", "fail=YES", "seconds=0.5"])
    assert params == {"items": 12, "seconds": 0.5, "fail": True}
    argv = wl.argv(params, repeat=3)
    assert argv == ["--repeat", "3", "--param", "items=12", "--param", "seconds=0.5",
                    "--param", "fail=true"]
    pairs = [argv[i + 1] for i, a in enumerate(argv) if a == "--param"]
    assert wl.parse_params(pairs) == params
    assert wl.argv(wl.defaults(), 1) == ["--repeat", "1"]  # defaults are not repeated


def test_ideal_runtimes_follow_the_cpus():
    par, seq = WL["parallel-retrieve"], WL["sequential-retrieve"]
    params = par.defaults()  # 6 items of 1 s
    assert par.ideal(params, 2) == 3.0 and par.ideal(params, 6) == 1.0 and par.ideal(params, 4) == 2.0
    assert seq.ideal(seq.defaults(), 6) == 6.0


def test_the_result_record_is_the_last_one_in_the_log():
    first = {"output": 1}
    last = {"output": 2, "runtimes_s": [1.5]}
    log = (f"== parallel-retrieve\n{common.RESULT_PREFIX}{json.dumps(first)}\nnoise\n"
           f"{common.RESULT_PREFIX}{json.dumps(last)}\ntrailing line\n")
    assert common.parse_result(log) == last
    error = {"error": "RuntimeError: boom"}
    assert common.parse_result(f"x\n{common.ERROR_PREFIX}{json.dumps(error)}\n") == error
    assert common.parse_result("no record here\n") is None
    assert common.parse_result(f"{common.RESULT_PREFIX}{{not json\n") is None


def test_digests_do_not_depend_on_order_and_partitions_add_up():
    docs = [f"doc-{i}".encode() for i in range(50)]
    whole = common.digest_docs(docs)
    assert common.digest_docs(reversed(docs)) == whole
    parts = [common.digest_docs(docs[:10]), common.digest_docs(docs[10:33]),
             common.digest_docs(docs[33:])]
    assert common.merge_digests(parts) == whole and whole[0] == 50
    assert common.digest_docs(docs[1:]) != whole
    assert len(common.digest_hex(whole[1])) == 16


def test_split_points_cut_integer_ids_into_equal_ranges_with_open_ends():
    assert split_points(0, 100, 4) == [None, 25, 50, 75, None]
    assert split_points(0, 100, 1) == [None, None]
    assert split_points(None, None, 3) == [None, None]  # empty collection
    assert split_points(5, 5, 3) == [None, None]  # one id: one range
    assert split_points(0, 2, 4) == [None, 1, None]  # fewer ids than parts: no empty cuts


def test_split_points_of_object_ids_are_object_ids_between_the_bounds():
    lo, hi = ObjectId("65a000000000000000000000"), ObjectId("65a0000a0000000000000000")
    points = split_points(lo, hi, 3)
    assert points[0] is None and points[-1] is None and len(points) == 4
    inner = points[1:-1]
    assert all(isinstance(p, ObjectId) for p in inner)
    assert lo < inner[0] < inner[1] <= hi
    widths = [int(str(b), 16) - int(str(a), 16) for a, b in itertools.pairwise([lo, *inner, hi])]
    assert max(widths) - min(widths) <= 1


def test_split_points_of_mixed_or_other_ids_fall_back_to_one_range():
    assert split_points("a", "z", 3) == [None, None]
    assert split_points(1, ObjectId(), 3) == [None, None]
