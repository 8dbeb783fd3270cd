"""Reads a --log of `train --stop-at ACC --eval-every K` and checks that the
run stopped at the first evaluation reaching ACC: every earlier evaluation
below it, the reaching one at or above it, nothing trained after it, and
its times positive. Prints the step it stopped at."""
import json
import sys

lines = [json.loads(l) for l in open(sys.argv[1])]
target = float(sys.argv[2]) / 100
evals = [l for l in lines if "test_accuracy" in l and "reached" not in l]
reached = [l for l in lines if "reached" in l]
assert len(reached) == 1 and lines[-1] is reached[0], "one 'reached' line, the last"
r = reached[0]
assert abs(r["reached"] - target) < 1e-12
assert evals[-1]["test_accuracy"] == r["test_accuracy"] >= target, "the last evaluation reached it"
assert all(e["test_accuracy"] < target for e in evals[:-1]), "no earlier evaluation reached it"
assert evals[-1].get("step", r["step"]) == r["step"]
assert all(l.get("step", 0) <= r["step"] for l in lines), "no step after it"
assert 0 < r["train_seconds_total"] <= r["seconds_total"]
print("stopped at step", r["step"], "after", len(evals), "evaluations")
