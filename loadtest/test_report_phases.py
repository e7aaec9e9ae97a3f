"""REPORT.md's accounting table (report_phases.py) with and without the
"before" profiles: the columns it shows and what it says moved.

    python3 -B -m unittest discover -s loadtest -p 'test_*.py'
"""

import pathlib
import tempfile
import unittest

import report_phases
from test_report_reach import profile

BEFORE = {"guest code": 30.0, "other imports": 18.0, "kernel: network send": 25.0,
          "db import (pool, statement, rows)": 20.0}
NOW = {"guest code": 14.0, "other imports": 7.0, "kernel: network send": 20.0,
       "db import (pool, statement, rows)": 29.0, "ETag: hashing the body (sha2)": 5.0}


def rendered(files):
    """The section's lines for a report folder holding these by-phase tables."""
    with tempfile.TemporaryDirectory() as folder:
        out = pathlib.Path(folder)
        for name, phases in files.items():
            (out / f"by-phase-{name}.txt").write_text(profile(phases))
        lines = []
        report_phases.table(out, lines.append)
        report_phases.before_and_after(out, lines.append)
        return lines


class PhasesTest(unittest.TestCase):
    def test_before_columns_stand_beside_their_request(self):
        header = rendered({"get": NOW, "get-before": BEFORE, "native-get": {"guest code": 1.0}})[0]
        self.assertEqual(header, "| phase of a request (host CPU, µs) | geofn GET before | geofn GET "
                                 "| native GET |")

    def test_what_moved_names_the_largest_cuts_and_growths(self):
        text = "\n".join(rendered({"get": NOW, "get-before": BEFORE}))
        self.assertIn("`GET /points?limit=100` 93 → 75 µs (cut most: guest code 30.0 → 14.0, "
                      "other imports 18.0 → 7.0, kernel: network send 25.0 → 20.0; grew most: "
                      "db import (pool, statement, rows) 20.0 → 29.0, "
                      "ETag: hashing the body (sha2) 0.0 → 5.0)", text)
        self.assertIn(f"AT={report_phases.BEFORE} loadtest/profile.sh", text)

    def test_a_side_with_no_move_says_nothing_moved(self):
        text = "\n".join(rendered({"post": BEFORE, "post-before": BEFORE}))
        self.assertIn("`POST /point` 93 → 93 µs (cut most: nothing; grew most: nothing)", text)

    def test_no_before_no_comparison(self):
        lines = rendered({"get": NOW, "post": NOW})
        self.assertNotIn("before", lines[0])
        self.assertFalse(any("*before*" in line for line in lines))


if __name__ == "__main__":
    unittest.main()
