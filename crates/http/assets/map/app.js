// The points on a map: coastlines from the bundled Natural Earth GeoJSON,
// points from GET /points?bbox= for the visible area, new points with
// POST /point. No inline script or style, so the page runs under a strict
// Content-Security-Policy.
(function () {
  'use strict';

  const LIMIT = 1000;
  const statusLine = document.getElementById('status');
  const form = document.getElementById('add');
  const nameInput = document.getElementById('name');
  const where = document.getElementById('where');

  const map = L.map('map', { worldCopyJump: true, minZoom: 1 }).setView([30, 0], 2);
  const points = L.layerGroup().addTo(map);
  let pending = null;

  function say(text, isError) {
    statusLine.textContent = text;
    statusLine.classList.toggle('error', Boolean(isError));
  }

  function clamp(value, low, high) {
    return Math.min(high, Math.max(low, value));
  }

  // The visible area as a bbox the API accepts (wrapped, clamped).
  function visibleBbox() {
    const bounds = map.getBounds();
    const south = clamp(bounds.getSouth(), -90, 90);
    const north = clamp(bounds.getNorth(), -90, 90);
    if (bounds.getEast() - bounds.getWest() >= 360) {
      return [-180, south, 180, north];
    }
    const west = L.Util.wrapNum(bounds.getWest(), [-180, 180], true);
    const east = L.Util.wrapNum(bounds.getEast(), [-180, 180], true);
    return [west, south, east, north];
  }

  function popupFor(point) {
    const box = document.createElement('div');
    const name = document.createElement('strong');
    name.className = 'point-name';
    name.textContent = point.name;
    const where = document.createElement('div');
    where.textContent = point.longitude.toFixed(4) + ', ' + point.latitude.toFixed(4);
    box.append(name, where);
    return box;
  }

  async function refresh() {
    const bbox = visibleBbox().map(function (n) { return n.toFixed(6); }).join(',');
    try {
      const response = await fetch('/points?bbox=' + bbox + '&limit=' + LIMIT, {
        headers: { Accept: 'application/json' },
      });
      if (!response.ok) {
        const problem = await response.json().catch(function () { return {}; });
        throw new Error(problem.detail || response.statusText);
      }
      const list = await response.json();
      points.clearLayers();
      for (const point of list) {
        L.circleMarker([point.latitude, point.longitude], {
          radius: 6, weight: 2, color: '#7a1f1f', fillColor: '#d94f4f', fillOpacity: 0.85,
          className: 'geofn-point',
        }).bindPopup(function () { return popupFor(point); }).addTo(points);
      }
      say(list.length + (list.length === LIMIT ? '+' : '') + ' points in view');
    } catch (error) {
      say('Could not load points: ' + error.message, true);
    }
  }

  map.on('click', function (event) {
    const at = event.latlng.wrap();
    pending = { longitude: at.lng, latitude: at.lat };
    where.textContent = 'at ' + at.lng.toFixed(4) + ', ' + at.lat.toFixed(4);
    form.hidden = false;
    nameInput.focus();
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
    await refresh();
    say('Added ' + answer.name + ' (#' + answer.id + ')');
  });

  fetch('/map/land.geojson')
    .then(function (response) { return response.json(); })
    .then(function (land) {
      L.geoJSON(land, {
        interactive: false,
        style: { color: '#7d8c99', weight: 1, fillColor: '#efeadf', fillOpacity: 1 },
      }).addTo(map);
      points.bringToFront && points.eachLayer(function (layer) { layer.bringToFront(); });
    })
    .catch(function () { say('Coastlines could not be loaded', true); });

  map.on('moveend', refresh);
  refresh();
}());
