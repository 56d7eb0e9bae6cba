// The bad-form matrix, sent to a real S3 server: each case is a correctly signed form changed
// in exactly one way. The server must refuse every one and store nothing. The `aws` column is
// what AWS (and our verifier, see server/tests/policy_mutations.rs) answers; Garage's codes
// differ (it answers 400 where AWS answers 403), so only refusal itself is asserted here, and
// the table is printed for docs/s3-compatibility.md.
import { randomBytes } from 'node:crypto';
import { expect, test } from '@playwright/test';
import { exists } from './bucket';
import { postForm, signForm, uniqueKey, type Field } from './forms';

const SIZE = 1024;

interface Case {
  name: string;
  aws: string;
  /** Builds the request from a form signed for `key` and exactly SIZE bytes of text/plain. */
  send: (url: string, fields: Field[], file: Buffer) => ReturnType<typeof postForm>;
  signArgs?: string[];
}

const changed = (name: string) => (fields: Field[]) =>
  fields.map(([n, v]): Field => (n === name ? [n, `x${v}`] : [n, v]));
const without = (name: string) => (fields: Field[]) => fields.filter(([n]) => n !== name);

const FIELDS = ['key', 'Content-Type', 'success_action_status', 'x-amz-credential', 'x-amz-algorithm', 'x-amz-date', 'policy', 'x-amz-signature'];
const AWS_WHEN_CHANGED: Record<string, string> = {
  policy: 'SignatureDoesNotMatch',
  'x-amz-signature': 'SignatureDoesNotMatch',
  'x-amz-algorithm': 'InvalidArgument',
  'x-amz-credential': 'InvalidAccessKeyId',
};
const AWS_WHEN_MISSING = (name: string) =>
  ['key', 'policy', 'x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-signature'].includes(name) ? 'InvalidArgument' : 'AccessDenied';

const cases: Case[] = [
  ...FIELDS.map((name) => ({
    name: `${name} changed`,
    aws: AWS_WHEN_CHANGED[name] ?? 'AccessDenied',
    send: (url: string, fields: Field[], file: Buffer) => postForm(url, changed(name)(fields), file),
  })),
  ...FIELDS.map((name) => ({
    name: `${name} missing`,
    aws: AWS_WHEN_MISSING(name),
    send: (url: string, fields: Field[], file: Buffer) => postForm(url, without(name)(fields), file),
  })),
  {
    name: 'extra field not in the policy',
    aws: 'AccessDenied',
    send: (url, fields, file) => postForm(url, [...fields.slice(0, -2), ['x-amz-meta-intruder', '1'], ...fields.slice(-2)], file),
  },
  {
    name: 'file before the signature',
    aws: 'InvalidArgument',
    send: (url, fields, file) => postForm(url, fields, file, fields.length - 1),
  },
  { name: 'one byte too many', aws: 'EntityTooLarge', send: (url, fields) => postForm(url, fields, randomBytes(SIZE + 1)) },
  { name: 'one byte too few', aws: 'EntityTooSmall', send: (url, fields) => postForm(url, fields, randomBytes(SIZE - 1)) },
  { name: 'no file', aws: 'InvalidArgument', send: (url, fields) => postForm(url, fields, null) },
  {
    name: 'another bucket',
    aws: 'AccessDenied',
    send: (url, fields, file) => postForm(url.replace(/\/[^/]+$/, '/not-the-signed-bucket'), fields, file),
  },
  {
    name: 'expired policy',
    aws: 'AccessDenied',
    signArgs: ['--now', new Date(Date.now() - 20 * 60_000).toISOString().replace(/\.\d+Z$/, 'Z')],
    send: (url, fields, file) => postForm(url, fields, file),
  },
];

test('a correctly signed form is stored (the control)', async () => {
  const key = uniqueKey('control');
  const { url, fields } = signForm(['--key', key, '--size', String(SIZE), '--content-type', 'text/plain']);
  const answer = await postForm(url, fields, randomBytes(SIZE));
  expect(answer.status, JSON.stringify(answer)).toBe(201);
  expect(await exists(key)).toBe(true);
});

test('every single change to a signed form is refused, and nothing is stored', async () => {
  const table: string[] = ['| case | AWS | Garage |', '|---|---|---|'];
  const accepted: string[] = [];
  for (const c of cases) {
    const key = uniqueKey(c.name);
    const { url, fields } = signForm(['--key', key, '--size', String(SIZE), '--content-type', 'text/plain', ...(c.signArgs ?? [])]);
    const answer = await c.send(url, fields, randomBytes(SIZE));
    table.push(`| ${c.name} | ${c.aws} | ${answer.status} ${answer.code ?? '-'} |`);
    if (answer.status < 400) accepted.push(`${c.name}: ${JSON.stringify(answer)}`);
    expect(answer.status, `${c.name}: the answer was lost (${answer.message})`).not.toBe(0);
    // The changed-key case stores nothing under either key.
    expect(await exists(key), `${c.name} stored ${key}`).toBe(false);
    expect(await exists(`x${key}`), `${c.name} stored x${key}`).toBe(false);
  }
  console.log(table.join('\n'));
  expect(accepted, 'forms the server accepted').toEqual([]);
});
