// How long the map page takes to draw a view, in headless Chromium
// (software WebGL): from the first view (zoom 1, the whole world) through
// zooms 2 to 5 over Europe, the time from asking for a view to MapLibre's
// `idle` (every tile fetched, decoded and drawn), with the tiles fetched.
//
//   node map-views.mjs BASE_URL LABEL    (env PLAYWRIGHT_CORE, CHROMIUM)
// Prints one CSV line per view: label,view,zoom,ms,tiles,tile_bytes.
const [base, label] = process.argv.slice(2);
const { chromium } = await import(process.env.PLAYWRIGHT_CORE);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--enable-unsafe-swiftshader', '--disable-quic',
    '--no-first-run', '--disable-background-networking', '--disable-component-update',
    '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  let tiles = 0;
  let bytes = 0;
  page.on('response', async (response) => {
    if (/\/tiles\/WebMercatorQuad\/\d+\/\d+\/\d+/.test(response.url())) {
      tiles += 1;
      bytes += (await response.body().catch(() => Buffer.alloc(0))).length;
    }
  });
  const report = (view, zoom, ms) => {
    console.log(`${label},${view},${zoom},${Math.round(ms)},${tiles},${bytes}`);
    tiles = 0;
    bytes = 0;
  };
  let started = Date.now();
  await page.goto(base + '/', { waitUntil: 'load' });
  await page.waitForFunction(() => window.geofnMap && window.geofnMap.loaded()
    && /points in view/.test(document.getElementById('status').textContent), null,
  { timeout: 120000 });
  report('first', await page.evaluate(() => window.geofnMap.getZoom()), Date.now() - started);
  for (const zoom of [2, 3, 4, 5]) {
    started = Date.now();
    await page.evaluate((z) => new Promise((resolve) => {
      window.geofnMap.once('idle', resolve);
      window.geofnMap.jumpTo({ center: [10, 48], zoom: z });
    }), zoom);
    report('europe', zoom, Date.now() - started);
  }
} finally {
  await browser.close();
}
