-- The INSERT of POST /point, as the points handler sends it (EWKB built
-- by PostGIS here instead of by the guest).
\set lon random(-180000000, 180000000)
\set lat random(-90000000, 90000000)
INSERT INTO points.points (name, geom) VALUES ('pgbench', ST_SetSRID(ST_MakePoint(:lon / 1000000.0, :lat / 1000000.0), 4326)) RETURNING id, name, geom;
