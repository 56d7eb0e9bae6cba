// The bad-form matrix, sent to two real S3 endpoints: Garage and the embedded dev bucket. Each
// case is a correctly signed form changed in exactly one way. Both must refuse every one and
// store nothing. The `aws` column is what AWS (and our verifier, see
// server/tests/policy_mutations.rs) answers: the dev bucket must answer exactly that. Garage's
// codes differ (it answers 400 where AWS answers 403), so for Garage only refusal is asserted;
// the table is printed for docs/s3-compatibility.md.
import { randomBytes } from 'node:crypto';
import { expect, test } from '@playwright/test';
import { backendFor, devDataFiles, type Backend } from './bucket';
import { postForm, signForm, uniqueKey, type Answer, type Field } from './forms';

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
    name: 'a bucket that does not exist',
    aws: 'NoSuchBucket',
    send: (url, fields, file) => postForm(url.replace(/\/[^/]+$/, '/not-the-signed-bucket'), fields, file),
  },
  {
    name: 'expired policy',
    aws: 'AccessDenied',
    signArgs: ['--now', new Date(Date.now() - 20 * 60_000).toISOString().replace(/\.\d+Z$/, 'Z')],
    send: (url, fields, file) => postForm(url, fields, file),
  },
];

const targets: [string, () => Backend][] = [
  ['garage', () => backendFor('garage')],
  ['dev bucket', () => backendFor('dev-bucket')],
];

for (const [name, backend] of targets) {
  test(`${name}: a correctly signed form is stored (the control)`, async () => {
    const { signEnv, exists } = backend();
    const key = uniqueKey('control');
    const { url, fields } = signForm(['--key', key, '--size', String(SIZE), '--content-type', 'text/plain'], signEnv);
    const answer = await postForm(url, fields, randomBytes(SIZE));
    expect(answer.status, JSON.stringify(answer)).toBe(201);
    expect(await exists(key)).toBe(true);
  });
}

test('Garage and the dev bucket refuse every single change to a signed form, and store nothing', async () => {
  const table: string[] = ['| case | AWS | dev bucket | Garage |', '|---|---|---|---|'];
  const problems: string[] = [];
  for (const c of cases) {
    const answers: Answer[] = [];
    for (const [name, backend] of targets) {
      const { signEnv, exists } = backend();
      const key = uniqueKey(c.name);
      const args = ['--key', key, '--size', String(SIZE), '--content-type', 'text/plain', ...(c.signArgs ?? [])];
      const { url, fields } = signForm(args, signEnv);
      const answer = await c.send(url, fields, randomBytes(SIZE));
      answers.push(answer);
      if (answer.status === 0) problems.push(`${name}, ${c.name}: the answer was lost (${answer.message})`);
      else if (answer.status < 400) problems.push(`${name}, ${c.name}: accepted ${JSON.stringify(answer)}`);
      // A changed key must store nothing under either key.
      for (const k of [key, `x${key}`]) if (await exists(k)) problems.push(`${name}, ${c.name}: stored ${k}`);
    }
    const [garage, dev] = answers;
    if (dev.code !== c.aws) problems.push(`dev bucket, ${c.name}: answered ${dev.code}, AWS answers ${c.aws}`);
    table.push(`| ${c.name} | ${c.aws} | ${dev.status} ${dev.code ?? '-'} | ${garage.status} ${garage.code ?? '-'} |`);
  }
  console.log(table.join('\n'));
  expect(problems).toEqual([]);
  // Refusals leave no temp files behind.
  expect(devDataFiles().filter((f) => f.includes('/.tmp/'))).toEqual([]);
});
