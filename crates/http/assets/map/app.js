// The points on a map: MapLibre GL JS drawing the vector tiles of the
// points and the regions (OGC API – Tiles, found through their TileJSON)
// over the bundled Natural Earth land; new points with POST /point. No
// inline script or style, and the CSP build of MapLibre (its worker served
// from /map/), so the page runs under a strict Content-Security-Policy.
(function () {
  'use strict';

  const TILEJSON = '/collections/{c}/tiles/WebMercatorQuad/tilejson.json';
  const statusLine = document.getElementById('status');
  const form = document.getElementById('add');
  const nameInput = document.getElementById('name');
  const where = document.getElementById('where');
  let pending = null;
  // After this page wrote, point tiles are revalidated (their ETag makes
  // that a 304 when nothing changed) instead of taken from the browser's
  // cache, where they may live for a minute.
  let revalidate = false;

  maplibregl.setWorkerUrl('/map/maplibre-gl-csp-worker.js');
  const map = new maplibregl.Map({
    container: 'map',
    center: [0, 30],
    zoom: 1,
    attributionControl: false,
    transformRequest: function (url, kind) {
      if (revalidate && kind === 'Tile' && url.indexOf('/collections/points/') !== -1) {
        return { url: url, cache: 'no-cache' };
      }
      return { url: url };
    },
    style: {
      version: 8,
      sources: {
        land: { type: 'geojson', data: '/map/land.geojson' },
        regions: { type: 'vector', url: TILEJSON.replace('{c}', 'regions') },
        points: { type: 'vector', url: TILEJSON.replace('{c}', 'points') },
      },
      layers: [
        { id: 'sea', type: 'background', paint: { 'background-color': '#cfe3f0' } },
        {
          id: 'land', type: 'fill', source: 'land',
          paint: { 'fill-color': '#efeadf', 'fill-outline-color': '#7d8c99' },
        },
        {
          id: 'regions', type: 'fill', source: 'regions', 'source-layer': 'regions',
          paint: { 'fill-color': '#4f7cd9', 'fill-opacity': 0.2, 'fill-outline-color': '#2c4f99' },
        },
        {
          // One circle per tile cell: bigger where more points share it.
          id: 'points', type: 'circle', source: 'points', 'source-layer': 'points',
          paint: {
            'circle-color': '#d94f4f',
            'circle-stroke-color': '#7a1f1f',
            'circle-stroke-width': 1.5,
            'circle-radius': ['interpolate', ['linear'], ['ln', ['get', 'count']], 0, 5, 7, 16],
          },
        },
      ],
    },
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }));
  window.geofnMap = map;

  function say(text, isError) {
    statusLine.textContent = text;
    statusLine.classList.toggle('error', Boolean(isError));
  }

  // The points drawn now: a tile's buffer may repeat a point its
  // neighbour holds, so lone points count once by id.
  function pointsInView() {
    const seen = new Set();
    let total = 0;
    for (const feature of map.queryRenderedFeatures({ layers: ['points'] })) {
      const key = feature.id !== undefined ? 'id ' + feature.id
        : 'cell ' + feature.geometry.coordinates.join(',');
      if (seen.has(key)) continue;
      seen.add(key);
      total += feature.properties.count || 1;
    }
    return total;
  }

  function popupFor(feature) {
    const box = document.createElement('div');
    const name = document.createElement('strong');
    name.className = 'point-name';
    const count = feature.properties.count || 1;
    name.textContent = count === 1 ? feature.properties.name : count + ' points';
    const hint = document.createElement('div');
    const at = feature.geometry.coordinates;
    hint.textContent = count === 1 ? at[0].toFixed(4) + ', ' + at[1].toFixed(4) : 'zoom in to tell them apart';
    box.append(name, hint);
    return box;
  }

  map.on('click', function (event) {
    const hit = map.queryRenderedFeatures(event.point, { layers: ['points'] })[0];
    if (hit) {
      new maplibregl.Popup({ offset: 8 }).setLngLat(hit.geometry.coordinates)
        .setDOMContent(popupFor(hit)).addTo(map);
      return;
    }
    const at = event.lngLat.wrap();
    pending = { longitude: at.lng, latitude: at.lat };
    where.textContent = 'at ' + at.lng.toFixed(4) + ', ' + at.lat.toFixed(4);
    form.hidden = false;
    nameInput.focus();
  });
  map.on('mousemove', 'points', function () { map.getCanvas().style.cursor = 'pointer'; });
  map.on('mouseleave', 'points', function () { map.getCanvas().style.cursor = ''; });

  let added = null;
  map.on('idle', function () {
    const total = pointsInView();
    if (added) {
      say('Added ' + added.name + ' (#' + added.id + '), ' + total + ' points in view');
      added = null;
    } else {
      say(total + ' points in view');
    }
  });
  map.on('error', function (event) {
    say('Map: ' + (event.error && event.error.message || 'an error'), true);
  });

  document.getElementById('cancel').addEventListener('click', function () {
    form.hidden = true;
    pending = null;
  });

  form.addEventListener('submit', async function (event) {
    event.preventDefault();
    if (!pending) return;
    const body = { longitude: pending.longitude, latitude: pending.latitude, name: nameInput.value };
    const response = await fetch('/point', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body),
    });
    const answer = await response.json().catch(function () { return {}; });
    if (response.status !== 201) {
      say('Not added: ' + (answer.detail || response.statusText), true);
      return;
    }
    form.hidden = true;
    pending = null;
    nameInput.value = '';
    say('Added ' + answer.name + ' (#' + answer.id + ')');
    added = answer;
    revalidate = true;
    const points = map.getSource('points');
    points.setTiles(points.tiles.slice());
  });
}());
