// scripts/seal-site.mjs across a deploy whose split-off code changed and nothing else: two
// builds as cargo-leptos leaves them (the main JS and wasm the same but for the loader's name),
// sealed, then served side by side (a rolling deploy keeps the previous build's files). No name
// may stand for two contents. Run by scripts/test.sh: node --test scripts/seal-site.test.mjs
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';

const seal = path.join(import.meta.dirname, 'seal-site.mjs');
const work = mkdtempSync(path.join(tmpdir(), 'seal-site-'));
after(() => rmSync(work, { recursive: true, force: true }));
const hashOf = (bytes) => createHash('md5').update(bytes).digest('base64url');

/** A site as `cargo leptos build --split` names it, whose split-off wasm holds `chunk`. */
function build(name, chunk) {
  const site = path.join(work, name);
  const pkg = path.join(site, 'pkg');
  mkdirSync(pkg, { recursive: true });
  const chunkName = `split_parts.${hashOf(chunk)}.wasm`;
  writeFileSync(path.join(pkg, chunkName), chunk);
  // cargo-leptos hashes the main JS and wasm while they still name the loader by a placeholder,
  // then writes the loader's name into them.
  const jsBefore = 'import * as import1 from "./__wasm_split.______________________.js";\nexport function initSync() {}\n';
  const wasmBefore = Buffer.concat([Buffer.from('\0asm'), Buffer.from('./__wasm_split.______________________.js'), Buffer.from('code')]);
  const jsName = `s3-uploader.${hashOf(jsBefore)}.js`;
  const loader = `import { initSync } from "./${jsName}";\nfetch(new URL("./${chunkName}", import.meta.url));\n`;
  const loaderHash = hashOf(loader);
  const loaderName = `__wasm_split.${loaderHash}.js`;
  writeFileSync(path.join(pkg, loaderName), loader);
  writeFileSync(path.join(pkg, jsName), jsBefore.replace('__wasm_split.______________________.js', loaderName));
  const wasmHash = hashOf(wasmBefore);
  writeFileSync(
    path.join(pkg, `s3-uploader.${wasmHash}.wasm`),
    Buffer.from(wasmBefore.toString('latin1').replace('__wasm_split.______________________.js', loaderName), 'latin1'),
  );
  writeFileSync(path.join(pkg, 's3-uploader.css.css'), 'body {}');
  // The manifest too: hashed before the chunks' final names are written into it.
  const manifestHash = hashOf('{"parts":["split_parts"]}');
  writeFileSync(path.join(pkg, `__wasm_split_manifest.${manifestHash}.json`), `{"parts":["${chunkName.slice(0, -5)}"]}`);
  const hashFile = path.join(work, `${name}.hash.txt`);
  writeFileSync(hashFile, `js: ${hashOf(jsBefore)}\nwasm: ${wasmHash}\ncss: css\nmanifest: ${manifestHash}\nsplit: ${loaderHash}\n`);
  return { site, pkg, hashFile };
}

/** Every file of `pkg` by name. */
const files = (pkg) => Object.fromEntries(readdirSync(pkg).map((name) => [name, readFileSync(path.join(pkg, name))]));

/** The names both builds use for different contents. */
function clashes(a, b) {
  return Object.keys(a).filter((name) => name in b && !a[name].equals(b[name]));
}

test('without sealing, two builds whose split-off code differs share names for different files', () => {
  const before = build('plain-before', 'parts code, first version');
  const after = build('plain-after', 'parts code, second version');
  assert.notDeepEqual(clashes(files(before.pkg), files(after.pkg)), []);
});

test('sealed, no name stands for two contents, and each build still names its own files', () => {
  const builds = [build('sealed-before', 'parts code, first version'), build('sealed-after', 'parts code, second version')];
  for (const { site, hashFile } of builds) {
    execFileSync('node', [seal, site, 'pkg', hashFile]);
  }
  const [before, after] = builds.map(({ pkg }) => files(pkg));
  assert.deepEqual(clashes(before, after), []);
  for (const { pkg, hashFile } of builds) {
    const hashes = Object.fromEntries(readFileSync(hashFile, 'utf8').trim().split('\n').map((l) => l.split(': ')));
    const js = readFileSync(path.join(pkg, `s3-uploader.${hashes.js}.js`), 'utf8');
    const loader = readFileSync(path.join(pkg, `__wasm_split.${hashes.split}.js`), 'utf8');
    const wasm = readFileSync(path.join(pkg, `s3-uploader.${hashes.wasm}.wasm`));
    assert.ok(js.includes(`./__wasm_split.${hashes.split}.js`));
    assert.ok(loader.includes(`./s3-uploader.${hashes.js}.js`));
    assert.ok(wasm.includes(Buffer.from(`./__wasm_split.${hashes.split}.js`)));
    assert.equal(hashOf(wasm), hashes.wasm);
  }
});

test('sealing twice changes nothing, compressed copies included', () => {
  const { site, pkg, hashFile } = build('twice', 'parts code');
  execFileSync('node', [seal, site, 'pkg', hashFile, '--precompress']);
  const once = { files: files(pkg), hashes: readFileSync(hashFile, 'utf8') };
  assert.ok(Object.keys(once.files).some((name) => name.startsWith('s3-uploader.') && name.endsWith('.wasm.br')));
  execFileSync('node', [seal, site, 'pkg', hashFile]);
  assert.deepEqual(files(pkg), once.files);
  assert.equal(readFileSync(hashFile, 'utf8'), once.hashes);
});
