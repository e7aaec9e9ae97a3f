#!/usr/bin/env bash
# Re-creates crates/http/assets/vendor/: MapLibre GL JS's CSP build, and
# Natural Earth 1:110m land as GeoJSON (from world-atlas' TopoJSON, via
# topojson-client), with rings that cross the antimeridian fixed up (below).
set -euo pipefail
cd "$(dirname "$0")/.."
out=crates/http/assets/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && for p in maplibre-gl@5.24.0 topojson-client@3.1.0 world-atlas@2.0.2; do npm pack --silent "$p" >/dev/null; done)
for f in "$work"/*.tgz; do mkdir -p "${f%.tgz}" && tar -xzf "$f" -C "${f%.tgz}"; done
mkdir -p "$out/maplibre-gl" "$out/natural-earth"
cp "$work"/maplibre-gl-5.24.0/package/dist/maplibre-gl-csp{,-worker}.js \
   "$work"/maplibre-gl-5.24.0/package/dist/maplibre-gl.css \
   "$work"/maplibre-gl-5.24.0/package/LICENSE.txt "$out/maplibre-gl/"
cp "$work"/world-atlas-2.0.2/package/LICENSE "$out/natural-earth/LICENSE-world-atlas"
node - "$work" "$out/natural-earth/land-110m.geojson" <<'JS'
const [work, target] = process.argv.slice(2);
const topo = require(`${work}/topojson-client-3.1.0/package/dist/topojson-client.js`);
const world = require(`${work}/world-atlas-2.0.2/package/land-110m.json`);
const land = topo.feature(world, world.objects.land);
// Rings that cross the antimeridian have neighbours 360 degrees apart.
// A flat map would draw those edges as bands across the whole map, so:
// - a ring crossing twice (Eurasia's Chukotka, Fiji) is made continuous,
//   then moved by 360 degrees as a whole if most of it ended up outside;
// - a ring crossing once encircles a pole (Antarctica): it is closed
//   along that pole instead.
const jumps = (ring) => ring.slice(1).filter(([lon], i) => Math.abs(lon - ring[i][0]) > 180).length;
const unwrap = (ring) => {
  let shift = 0;
  const out = ring.map(([lon, lat], i) => {
    if (i > 0) {
      const previous = ring[i - 1][0];
      if (lon - previous > 180) shift -= 360;
      else if (previous - lon > 180) shift += 360;
    }
    return [lon + shift, lat];
  });
  const mean = out.reduce((sum, [lon]) => sum + lon, 0) / out.length;
  const back = mean > 180 ? -360 : mean < -180 ? 360 : 0;
  return out.map(([lon, lat]) => [lon + back, lat]);
};
const aroundPole = (ring) => {
  const pole = ring.reduce((sum, [, lat]) => sum + lat, 0) < 0 ? -90 : 90;
  const out = [];
  ring.forEach(([lon, lat], i) => {
    if (i > 0 && Math.abs(lon - ring[i - 1][0]) > 180) {
      out.push([ring[i - 1][0], pole], [lon, pole]);
    }
    out.push([lon, lat]);
  });
  return out;
};
for (const feature of land.features) {
  const geometry = feature.geometry;
  const polygons = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
  for (const polygon of polygons) {
    for (let r = 0; r < polygon.length; r++) {
      const n = jumps(polygon[r]);
      if (n === 1) polygon[r] = aroundPole(polygon[r]);
      else if (n > 1) polygon[r] = unwrap(polygon[r]);
    }
  }
}
require('fs').writeFileSync(target, JSON.stringify(land));
JS
ls -l "$out"/*/
