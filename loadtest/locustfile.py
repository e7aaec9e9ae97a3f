"""The guide's Locust scenario, against geofn.

Users arrive 3 per second, wait 1-2 s between requests, and list points
three times as often as they add one (random coordinates and names).

    locust -f loadtest/locustfile.py --headless -u 200 -r 3 -t 2m --host http://127.0.0.1:5000
"""

import random
import uuid

from locust import HttpUser, between, task


class PointsUser(HttpUser):
    wait_time = between(1, 2)

    @task(3)
    def list_points(self):
        self.client.get("/points", name="GET /points")

    @task(1)
    def add_point(self):
        self.client.post(
            "/point",
            json={
                "longitude": random.uniform(-180, 180),
                "latitude": random.uniform(-90, 90),
                "name": f"locust-{uuid.uuid4().hex[:12]}",
            },
            name="POST /point",
        )
