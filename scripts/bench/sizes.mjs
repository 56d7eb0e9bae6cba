// Bytes of the given files, summed: raw, gzip -9 and brotli (quality 11), as one JSON line.
// usage: node sizes.mjs FILE...
import { readFileSync } from 'node:fs';
import zlib from 'node:zlib';

const total = { raw: 0, gzip: 0, brotli: 0 };
for (const file of process.argv.slice(2)) {
  const bytes = readFileSync(file);
  total.raw += bytes.length;
  total.gzip += zlib.gzipSync(bytes, { level: 9 }).length;
  total.brotli += zlib.brotliCompressSync(bytes, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
}
console.log(JSON.stringify(total));
