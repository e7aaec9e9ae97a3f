// Drives the map page in headless Chromium (Debian's, through
// playwright-core): sees the seeded markers, opens one, adds a point by
// clicking the map, and saves a screenshot.
//
//   node map.mjs BASE_URL SCREENSHOT_PATH    (env PLAYWRIGHT_CORE, CHROMIUM)
import { strict as assert } from 'node:assert';

const [base, screenshot] = process.argv.slice(2);
const { chromium } = await import(process.env.PLAYWRIGHT_CORE);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const violations = [];
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
  page.on('console', (message) => {
    if (/Content.Security.Policy|Refused to/i.test(message.text())) violations.push(message.text());
  });
  page.on('pageerror', (error) => violations.push(String(error)));
  const response = await page.goto(base + '/', { waitUntil: 'networkidle' });
  assert.equal(response.status(), 200);
  assert.match(response.headers()['content-security-policy'], /script-src 'self'/);
  assert.equal(await page.title(), 'geofn — points');

  // The seeded points are drawn as markers.
  await page.waitForSelector('path.geofn-point');
  const markers = await page.locator('path.geofn-point').count();
  assert.ok(markers >= 3, `only ${markers} markers`);
  await page.waitForFunction(() => /points in view/.test(document.getElementById('status').textContent));

  // A marker's popup names its point.
  await page.locator('path.geofn-point').first().click({ force: true });
  const popup = await page.locator('.leaflet-popup-content .point-name').textContent();
  assert.ok(['Paris', 'Nairobi', 'Lima'].includes(popup), `popup says ${popup}`);
  await page.keyboard.press('Escape');

  // Click on the map (in the southern Indian Ocean, away from markers), name it, save.
  const box = await page.locator('#map').boundingBox();
  await page.mouse.click(box.x + box.width * 0.7, box.y + box.height * 0.72);
  await page.waitForSelector('#add:not([hidden])');
  await page.fill('#name', 'Clicked from Chromium');
  await page.click('#save');
  await page.waitForFunction(() => /^Added Clicked from Chromium/.test(document.getElementById('status').textContent));
  const after = await page.locator('path.geofn-point').count();
  assert.equal(after, markers + 1, 'the new point is drawn');

  await page.screenshot({ path: screenshot });
  assert.deepEqual(violations, [], 'no CSP violations or page errors');
  console.log(JSON.stringify({ markers, after }));
} finally {
  await browser.close();
}
