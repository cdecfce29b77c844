#!/usr/bin/env node
// The app's icons, drawn here and committed (web/public/icons/): a white gatehouse (two
// towers, a wall, an arched gate) on the accent blue. Plain Node, no network, no
// dependencies: shapes are sampled 4×4 per pixel for smooth edges, and written as RGBA
// PNGs with zlib. Deterministic: the same script gives the same bytes.
//
//   node scripts/make-icons.js
//
// "any" icons have rounded corners and a transparent outside; the maskable and Apple
// icons fill the square (the platform cuts its own shape), with the glyph inside the
// central safe zone (a circle of 40 % of the size).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

const OUT = join(dirname(fileURLToPath(import.meta.url)), '..', 'web', 'public', 'icons');
const BLUE = [0x1f, 0x5f, 0xd1];
const WHITE = [0xff, 0xff, 0xff];

/** Is (x, y), in the glyph's unit square, part of the gatehouse? */
function inGlyph(x, y) {
  const rect = (x0, y0, x1, y1) => x >= x0 && x < x1 && y >= y0 && y < y1;
  const towers = rect(0.1, 0.2, 0.34, 1) || rect(0.66, 0.2, 0.9, 1);
  // Battlements: two merlons on each tower.
  const merlons = [0.1, 0.26, 0.66, 0.82].some((x0) => rect(x0, 0.06, x0 + 0.08, 0.2));
  const wall = rect(0.34, 0.42, 0.66, 1);
  // The gate: an opening with a round top, cut out of the wall.
  const gate = rect(0.41, 0.66, 0.59, 1) || (x - 0.5) ** 2 + (y - 0.66) ** 2 < 0.09 ** 2;
  return towers || merlons || (wall && !gate);
}

/** Coverage of the background shape at (x, y) in the icon's unit square. */
function inBackground(x, y, rounded) {
  if (!rounded) return true;
  const r = 0.18;
  const cx = Math.min(Math.max(x, r), 1 - r);
  const cy = Math.min(Math.max(y, r), 1 - r);
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
}

function draw(size, { rounded, glyphBox }) {
  const S = 4;
  const pixels = Buffer.alloc(size * size * 4);
  const [gx, gy, gw] = glyphBox; // the glyph's square inside the icon, in units of the icon
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let bg = 0;
      let fg = 0;
      for (let sy = 0; sy < S; sy++) {
        for (let sx = 0; sx < S; sx++) {
          const x = (px + (sx + 0.5) / S) / size;
          const y = (py + (sy + 0.5) / S) / size;
          if (!inBackground(x, y, rounded)) continue;
          bg++;
          if (inGlyph((x - gx) / gw, (y - gy) / gw)) fg++;
        }
      }
      const i = (py * size + px) * 4;
      const alpha = bg / (S * S);
      const mix = bg === 0 ? 0 : fg / bg;
      for (let c = 0; c < 3; c++) pixels[i + c] = Math.round(BLUE[c] * (1 - mix) + WHITE[c] * mix);
      pixels[i + 3] = Math.round(alpha * 255);
    }
  }
  return png(size, size, pixels);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buffer) {
  let c = 0xffffffff;
  for (const byte of buffer) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** An 8-bit RGBA PNG: each row starts with filter 0 (none). */
function png(width, height, rgba) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // colour type: RGBA
  const rows = Buffer.alloc(height * (width * 4 + 1));
  for (let y = 0; y < height; y++) rgba.copy(rows, y * (width * 4 + 1) + 1, y * width * 4, (y + 1) * width * 4);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const ANY = { rounded: true, glyphBox: [0.2, 0.18, 0.6] };
// Safe zone: the glyph's corners stay within a circle of radius 0.4 around the centre.
const FULL = { rounded: false, glyphBox: [0.27, 0.25, 0.46] };
const ICONS = [
  ['icon-192.png', 192, ANY],
  ['icon-512.png', 512, ANY],
  ['icon-maskable-512.png', 512, FULL],
  ['apple-touch-icon.png', 180, FULL],
  ['favicon-32.png', 32, ANY],
];

mkdirSync(OUT, { recursive: true });
for (const [name, size, style] of ICONS) {
  writeFileSync(join(OUT, name), draw(size, style));
  console.log(`wrote web/public/icons/${name} (${size}×${size})`);
}
