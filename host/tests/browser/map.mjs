// Drives the map page in headless Chromium (Debian's, through
// playwright-core): MapLibre draws the seeded points from their vector
// tiles, a click on one names it, a click on the sea adds a point that the
// revalidated tiles then draw, and a screenshot is saved.
//
//   node map.mjs BASE_URL SCREENSHOT_PATH    (env PLAYWRIGHT_CORE, CHROMIUM)
import { strict as assert } from 'node:assert';

const [base, screenshot] = process.argv.slice(2);
const { chromium } = await import(process.env.PLAYWRIGHT_CORE);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  // Chromium draws WebGL in software (SwiftShader) without a GPU.
  args: ['--no-sandbox', '--disable-gpu', '--enable-unsafe-swiftshader', '--disable-quic',
    '--no-first-run', '--disable-background-networking', '--disable-component-update',
    '--disable-sync'],
});
const violations = [];
const tiles = [];
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
  page.on('console', (message) => {
    if (/Content.Security.Policy|Refused to/i.test(message.text())) violations.push(message.text());
  });
  page.on('pageerror', (error) => violations.push(String(error)));
  page.on('response', (response) => {
    if (/\/tiles\/WebMercatorQuad\/\d+\/\d+\/\d+/.test(response.url())) {
      tiles.push([response.status(), response.headers()['content-type'] || '']);
    }
  });
  const response = await page.goto(base + '/', { waitUntil: 'networkidle' });
  assert.equal(response.status(), 200);
  assert.match(response.headers()['content-security-policy'], /script-src 'self'/);
  assert.equal(await page.title(), 'geofn — points');

  // The seeded points come as vector tiles and are drawn.
  await page.waitForFunction(() => /points in view/.test(document.getElementById('status').textContent));
  const drawn = () => page.evaluate(() => window.geofnMap
    .queryRenderedFeatures({ layers: ['points'] })
    .map((f) => f.properties.name).filter(Boolean).sort());
  const names = await drawn();
  assert.deepEqual(names, ['Lima', 'Nairobi', 'Paris'], `drawn: ${names}`);
  assert.ok(tiles.some(([status, type]) => status === 200
    && type === 'application/vnd.mapbox-vector-tile'), `tiles: ${JSON.stringify(tiles)}`);
  const status = await page.textContent('#status');
  assert.equal(status, '3 points in view');

  // A click on Paris names it.
  const box = await page.locator('#map').boundingBox();
  const paris = await page.evaluate(() => window.geofnMap.project([2.3522, 48.8566]));
  await page.mouse.click(box.x + paris.x, box.y + paris.y);
  const popup = await page.locator('.maplibregl-popup-content .point-name').textContent();
  assert.equal(popup, 'Paris');
  await page.locator('.maplibregl-popup-close-button').click();

  // Click on the map (the southern Indian Ocean, away from the points), name it, save.
  const sea = await page.evaluate(() => window.geofnMap.project([75, -35]));
  await page.mouse.click(box.x + sea.x, box.y + sea.y);
  await page.waitForSelector('#add:not([hidden])');
  await page.fill('#name', 'Clicked from Chromium');
  await page.click('#save');
  await page.waitForFunction(() => /^Added Clicked from Chromium/.test(document.getElementById('status').textContent));
  // The revalidated tiles draw it.
  await page.waitForFunction(() => window.geofnMap.queryRenderedFeatures({ layers: ['points'] })
    .some((f) => f.properties.name === 'Clicked from Chromium'), null, { timeout: 10000 });
  const after = await drawn();
  assert.deepEqual(after, ['Clicked from Chromium', 'Lima', 'Nairobi', 'Paris'], `drawn: ${after}`);

  await page.screenshot({ path: screenshot });
  assert.deepEqual(violations, [], 'no CSP violations or page errors');
  console.log(JSON.stringify({ drawn: after, tiles: tiles.length }));
} finally {
  await browser.close();
}
