-- The SELECT of GET /points (default limit 100, one more row for the next link).
SELECT id, name, geom FROM points.points ORDER BY id DESC LIMIT 101;
