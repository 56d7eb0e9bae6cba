#!/usr/bin/env node
// Names the page's entry files after what they are once built, so that one name is always one
// content (browsers keep files under hashed names for a year, and a rolling deploy serves two
// builds at once). Run by scripts/build.sh after `cargo leptos build --split`.
//
// Why cargo-leptos's names are not enough with --split: the main JS and the split loader
// (`__wasm_split.<hash>.js`) import each other, and the main wasm imports the loader by name.
// cargo-leptos hashes the main JS and wasm before writing the loader's name into them, so a
// build whose split-off code changed (a new loader name) can give a main JS or wasm the same
// name as the build before with other content: a browser holding the old one would then load
// the new wasm with the old loader and fail to link. Here the main JS and the loader are named
// by one hash of both (each with the other's name taken out: they cannot both contain the
// other's final name), and the main wasm and the split manifest by their final content. The
// split-off wasm files name nothing, so cargo-leptos's names for them stand.
//
// Usage: node scripts/seal-site.mjs <site-root> <pkg-dir> <hash-file> [--precompress]
// --precompress writes the .gz and .br copies the server sends (cargo-leptos's own would be made
// before the renaming). Running it twice changes nothing.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const [siteRoot, pkgDir, hashFile, ...flags] = process.argv.slice(2);
if (!hashFile || flags.some((f) => f !== '--precompress')) {
  console.error('usage: seal-site.mjs <site-root> <pkg-dir> <hash-file> [--precompress]');
  process.exit(2);
}
const pkg = path.join(siteRoot, pkgDir);
const PLACEHOLDER = '_'.repeat(22);
const hashOf = (bytes) => createHash('md5').update(bytes).digest('base64url');
const fail = (message) => {
  console.error(`seal-site: ${message}`);
  process.exit(1);
};

// cargo-leptos's hash file: `js: <hash>`, `wasm: <hash>`, `css: ...`, `manifest: ...`, `split: ...`.
const lines = readFileSync(hashFile, 'utf8').split('\n').filter((line) => line.trim());
const hashes = Object.fromEntries(lines.map((line) => line.split(':').map((part) => part.trim())));
for (const kind of ['js', 'wasm', 'split']) {
  if (!hashes[kind]) fail(`${hashFile} has no ${kind} line: build with \`cargo leptos build --split\``);
}
const mainJs = readdirSync(pkg).find((name) => name.endsWith(`.${hashes.js}.js`) && !name.startsWith('__wasm_split.'));
if (!mainJs) fail(`no main JS ending in .${hashes.js}.js in ${pkg}`);
const output = mainJs.slice(0, -`.${hashes.js}.js`.length);

const names = {
  js: (hash) => `${output}.${hash}.js`,
  loader: (hash) => `__wasm_split.${hash}.js`,
  wasm: (hash) => `${output}.${hash}.wasm`,
};
const read = (name) => readFileSync(path.join(pkg, name));
const oldJs = names.js(hashes.js);
const oldLoader = names.loader(hashes.split);
const oldWasm = names.wasm(hashes.wasm);

// The main JS and the loader, each without the other's name, decide both names.
const jsBare = read(oldJs).toString('utf8').replaceAll(oldLoader, names.loader(PLACEHOLDER));
const loaderBare = read(oldLoader).toString('utf8').replaceAll(oldJs, names.js(PLACEHOLDER));
const sealed = hashOf(`${jsBare}\0${loaderBare}`);
const newJs = names.js(sealed);
const newLoader = names.loader(sealed);
const jsText = jsBare.replaceAll(names.loader(PLACEHOLDER), newLoader);
const loaderText = loaderBare.replaceAll(names.js(PLACEHOLDER), newJs);
if (!jsText.includes(newLoader) || !loaderText.includes(newJs)) {
  fail(`${oldJs} and ${oldLoader} do not import each other: is this a --split build?`);
}

// The main wasm imports the loader by name: same length, so a byte-for-byte swap.
const wasm = Buffer.from(read(oldWasm));
const from = Buffer.from(oldLoader);
let swapped = 0;
for (let at = wasm.indexOf(from); at !== -1; at = wasm.indexOf(from, at + from.length)) {
  Buffer.from(newLoader).copy(wasm, at);
  swapped += 1;
}
if (swapped === 0 && oldLoader !== newLoader && !wasm.includes(Buffer.from(newLoader))) {
  fail(`${oldWasm} does not import ${oldLoader}`);
}
const newWasm = names.wasm(hashOf(wasm));

// The split manifest (read by the server only) is hashed by cargo-leptos before it writes the
// chunks' final names into it: named here by what it holds.
const manifest = hashes.manifest && {
  old: `__wasm_split_manifest.${hashes.manifest}.json`,
  content: read(`__wasm_split_manifest.${hashes.manifest}.json`),
};
const newManifest = manifest && `__wasm_split_manifest.${hashOf(manifest.content)}.json`;

const renamed = [
  [oldJs, newJs, jsText],
  [oldLoader, newLoader, loaderText],
  [oldWasm, newWasm, wasm],
  ...(manifest ? [[manifest.old, newManifest, manifest.content]] : []),
].filter(([oldName, newName]) => oldName !== newName);

// Nothing else may name the files renamed here (the split-off wasm files name none; wasm-bindgen's
// snippets folder, where there is one, holds JS that names none either).
for (const name of readdirSync(pkg)) {
  if (renamed.some(([oldName]) => oldName === name) || /\.(gz|br)$/.test(name)) continue;
  if (statSync(path.join(pkg, name)).isDirectory()) continue;
  const text = read(name);
  for (const [oldName] of renamed) {
    if (text.includes(Buffer.from(oldName))) fail(`${name} names ${oldName}, which this script renames`);
  }
}

// New files first, then the hash file that names them, then the old files: a run cut short
// leaves a site that still serves, and running again finishes it.
for (const [, newName, content] of renamed) writeFileSync(path.join(pkg, newName), content);
hashes.js = sealed;
hashes.split = sealed;
hashes.wasm = newWasm.slice(output.length + 1, -'.wasm'.length);
if (manifest) hashes.manifest = newManifest.slice('__wasm_split_manifest.'.length, -'.json'.length);
writeFileSync(hashFile, `${Object.entries(hashes).map(([kind, hash]) => `${kind}: ${hash}`).join('\n')}\n`);
for (const [oldName] of renamed) {
  for (const suffix of ['', '.gz', '.br']) rmSync(path.join(pkg, oldName + suffix), { force: true });
}

if (flags.includes('--precompress')) precompress(siteRoot);
console.log(`seal-site: ${newJs}, ${newLoader}, ${newWasm}`);

/** gzip and brotli copies of every file under `dir`, at their best (the server sends them). */
function precompress(dir) {
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) {
      precompress(file);
      continue;
    }
    if (/\.(gz|br)$/.test(name)) continue;
    const bytes = readFileSync(file);
    if (!existsSync(`${file}.gz`) || statSync(`${file}.gz`).mtimeMs < statSync(file).mtimeMs) {
      writeFileSync(`${file}.gz`, gzipSync(bytes, { level: 9 }));
    }
    if (!existsSync(`${file}.br`) || statSync(`${file}.br`).mtimeMs < statSync(file).mtimeMs) {
      writeFileSync(
        `${file}.br`,
        brotliCompressSync(bytes, {
          params: {
            [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
            [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
          },
        }),
      );
    }
  }
}
