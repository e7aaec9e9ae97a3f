"""The guide's stack as a baseline: Flask + psycopg2 behind gunicorn, the
points API on the same table and SQL as the points handlers, so the Python
handler is measured against what its users run today.

    gunicorn -w 4 --threads 4 -k gthread -b 127.0.0.1:PORT app:app   # DATABASE_URL set
"""

import os

from flask import Flask, jsonify, request
from psycopg2.pool import ThreadedConnectionPool

app = Flask(__name__)
# One pool per gunicorn worker (created after the fork), one connection per thread.
pool = ThreadedConnectionPool(1, 4, os.environ["DATABASE_URL"])

NEWEST = ("SELECT id, name, ST_X(geom), ST_Y(geom) FROM points.points "
          "ORDER BY id DESC LIMIT %s")
INSERT = ("INSERT INTO points.points (name, geom) VALUES (%s, ST_SetSRID(ST_MakePoint(%s, %s), 4326)) "
          "RETURNING id, name, ST_X(geom), ST_Y(geom)")


def run(sql, params):
    connection = pool.getconn()
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    finally:
        pool.putconn(connection)


def wire(row):
    return {"id": row[0], "name": row[1], "longitude": row[2], "latitude": row[3]}


@app.get("/points")
def points():
    limit = request.args.get("limit", 100, type=int)
    return jsonify([wire(row) for row in run(NEWEST, (limit,))])


@app.post("/point")
def point():
    body = request.get_json()
    try:
        longitude, latitude, name = float(body["longitude"]), float(body["latitude"]), str(body["name"])
    except (KeyError, TypeError, ValueError):
        return jsonify({"error": "longitude, latitude and name are required"}), 400
    created = wire(run(INSERT, (name, longitude, latitude))[0])
    return jsonify(created), 201, {"Location": f"/points/{created['id']}"}
