"""Reads a geofn deployment as OWSLib's OGC API - Features client does, and
prints what it got as one JSON document for host/tests/ogc_clients.rs.

    python3 owslib_client.py BASE_URL
"""
import json
import sys

from owslib.ogcapi.features import Features

base = sys.argv[1]
api = Features(base, timeout=30)
conformance = api.conformance()["conformsTo"]
collections = api.feature_collections()
collection = api.collection("points")
queryables = api.collection_queryables("points")
filtered = api.collection_items("points", filter="name = 'Paris'", limit=10)
in_box = api.collection_items("points", bbox=[2, 48, 3, 49], limit=10)
as_json = api.collection_items(
    "points",
    **{"filter-lang": "cql2-json",
       "filter": json.dumps({"op": "like", "args": [{"property": "name"}, "L%"]})},
)
in_mercator = api.collection_items(
    "points", filter="name = 'Paris'", crs="http://www.opengis.net/def/crs/EPSG/0/3857")
paris_id = filtered["features"][0]["id"]
item = api.collection_item("points", paris_id)

print(json.dumps({
    "conformance": conformance,
    "collections": collections,
    "collection_crs": collection.get("crs", []),
    "queryables": sorted(queryables.get("properties", {})),
    "filtered": sorted(f["properties"]["name"] for f in filtered["features"]),
    "in_box": sorted(f["properties"]["name"] for f in in_box["features"]),
    "as_json": sorted(f["properties"]["name"] for f in as_json["features"]),
    "mercator": in_mercator["features"][0]["geometry"]["coordinates"],
    "item": item["properties"]["name"],
}))
