// Renders the app icon (web/app/icon.svg) to the PNG sizes an installable web app needs
// (web/public/icons/), in Chromium: 192 and 512 px as drawn, and a 512 px "maskable" one whose
// artwork sits inside the safe zone (the middle 80%) on a full-bleed background, since launchers
// crop maskable icons to their own shape. Run again after changing the SVG; the PNGs are committed.
//
//   node scripts/icons.mjs
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const svg = readFileSync(`${ROOT}/web/app/icon.svg`, 'utf8');
const background = svg.match(/<rect[^>]*fill="(#[0-9a-fA-F]{6})"/)?.[1];
if (!background) throw new Error('icon.svg: no background rect to extend for the maskable icon');

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const page = await browser.newPage();
  const render = async (size, maskable, file) => {
    await page.setViewportSize({ width: size, height: size });
    // Maskable: the background fills the square with no rounded corners; the artwork is scaled to
    // the safe zone's 80%.
    const art = maskable ? Math.round(size * 0.8) : size;
    await page.setContent(`<html><body style="margin:0;width:${size}px;height:${size}px;display:grid;place-items:center;background:${maskable ? background : 'transparent'}">
      <div style="width:${art}px;height:${art}px">${svg.replace('<svg ', `<svg width="${art}" height="${art}" `)}</div></body></html>`);
    await page.screenshot({ path: `${ROOT}/web/public/icons/${file}`, omitBackground: !maskable });
  };
  await render(192, false, 'icon-192.png');
  await render(512, false, 'icon-512.png');
  await render(512, true, 'maskable-512.png');
} finally {
  await browser.close();
}
