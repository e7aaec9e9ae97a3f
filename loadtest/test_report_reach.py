"""REPORT.md's "What would reach the missed targets" (report_reach.py) on
small made-up profiles: the allowance, the design's price, and the verdict
each row gives.

    python3 -B -m unittest discover -s loadtest -p 'test_*.py'
"""

import pathlib
import tempfile
import unittest

import report_reach


def profile(phases):
    """A by-phase table as profile_phases.py prints it."""
    lines = [f"{'phase':62s} {'share':>6s}  µs/req"]
    total = sum(phases.values())
    for name, us in phases.items():
        lines.append(f"{name:62s} {100 * us / total:5.1f}%  {us:6.1f}")
    return "\n".join(lines) + "\n"


GEOFN = {"guest code": 10.0, "calling into wasm (wasmtime)": 8.0, "other imports": 2.0,
         "instantiation": 2.0, "instance teardown and memory reset": 3.0,
         "kernel: guest memory reset (PAGEMAP_SCAN, madvise)": 1.0,
         "routing, admission, middleware (axum, tower, geofn_http)": 12.0,
         "db import (pool, statement, rows)": 20.0, "kernel: network send": 20.0}
NATIVE = {"routing, admission, middleware (axum, tower, geofn_http)": 4.0,
          "other host work (allocator, libc, unresolved)": 18.0, "kernel: network send": 18.0}


class ReachTest(unittest.TestCase):
    def test_allowance_is_the_machine_time_the_target_leaves(self):
        # 2 cores at 10,000 req/s: 200 µs a request; at 0.8 of it, 250 µs.
        self.assertAlmostEqual(report_reach.allowance(2, 10_000, 0.8), 50.0)

    def test_excess_outside_the_price_counts_db_against_the_natives_own_code(self):
        excess = dict(report_reach.largest_excess(GEOFN, NATIVE))
        self.assertAlmostEqual(excess["db import and other host work"], 2.0)
        self.assertAlmostEqual(excess["routing, admission, middleware (axum, tower, geofn_http)"], 8.0)
        self.assertNotIn("guest code", excess)

    def section(self, native_rps):
        with tempfile.TemporaryDirectory() as folder:
            out = pathlib.Path(folder)
            for name in ("get", "post"):
                (out / f"by-phase-{name}.txt").write_text(profile(GEOFN))
                (out / f"by-phase-native-{name}.txt").write_text(profile(NATIVE))
            lines = []
            report_reach.section(out, lines.append, 2, {"get": native_rps, "post": native_rps},
                                 {"get": 0.7, "post": 0.75}, 20_000.0, [], None)
            return "\n".join(lines)

    def test_a_price_over_the_allowance_says_by_how_much(self):
        # 10,000 req/s: 0.85 allows 35.3 µs; the fresh price is 26, reuse's 20
        # against 10.5 allowed.
        text = self.section(10_000)
        self.assertIn("| fresh instances ≥ 0.85× native, GET | 35 µs | 26 µs | 9 µs | 12 µs |", text)
        self.assertIn("| reuse on ≥ 0.95× native, GET | 11 µs | 20 µs | none (the price is 9 µs over)",
                      text)
        self.assertIn("the rest would have to come down from 12 µs over native to 9", text)

    def test_a_faster_native_leaves_no_room_for_the_price(self):
        # 40,000 req/s: 0.85 allows 8.8 µs, under the fresh price of 26.
        text = self.section(40_000)
        self.assertIn("| fresh instances ≥ 0.85× native, GET | 9 µs | 26 µs | none (the price is 17 µs over)",
                      text)
        self.assertNotIn("would have to come down", text)

    def test_nothing_without_the_profiles(self):
        with tempfile.TemporaryDirectory() as folder:
            lines = []
            report_reach.section(pathlib.Path(folder), lines.append, 2, {"get": 1, "post": 1},
                                 {"get": 1, "post": 1}, 1.0, [], None)
            self.assertEqual(lines, [])


if __name__ == "__main__":
    unittest.main()
