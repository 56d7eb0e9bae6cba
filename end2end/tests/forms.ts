// Signed forms from the real `server sign` command, and a plain multipart POST of them: the
// way any S3 client would send a form, without a browser.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

export type Field = [string, string];
export interface SignedForm {
  url: string;
  fields: Field[];
}

const serverBinary = path.resolve(__dirname, '../../target/debug/server');

/** Runs `server sign` with the AWS_* environment, changed by `env`. */
export function signForm(args: string[], env: Record<string, string> = {}): SignedForm {
  const out = execFileSync(serverBinary, ['sign', ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  return JSON.parse(out);
}

export interface Answer {
  status: number;
  code?: string;
  message?: string;
}

/** A multipart/form-data body: `fields` in order, with the file at `fileAt` (default: last). */
export function multipart(fields: Field[], file: Buffer | null, fileAt = fields.length, fileName = 'data.bin'): { body: Buffer; type: string } {
  const boundary = `----form${randomBytes(12).toString('hex')}`;
  const chunks: Buffer[] = [];
  const filePart = (data: Buffer) =>
    chunks.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${fileName}"\r\nContent-Type: application/octet-stream\r\n\r\n`),
      data,
      Buffer.from('\r\n'),
    );
  fields.forEach(([name, value], i) => {
    if (i === fileAt && file) filePart(file);
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  });
  if (fileAt >= fields.length && file) filePart(file);
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), type: `multipart/form-data; boundary=${boundary}` };
}

/**
 * POSTs a form, sent as one buffer like a browser sends a small form. A server may answer a
 * refusal early and close the connection; if that loses the answer, it is reported as status 0.
 */
export async function postForm(url: string, fields: Field[], file: Buffer | null, fileAt = fields.length, fileName = 'data.bin'): Promise<Answer> {
  const { body, type } = multipart(fields, file, fileAt, fileName);
  let res: Response;
  try {
    // A redirect (success_action_redirect) is the answer itself: not followed.
    res = await fetch(url, { method: 'POST', body, headers: { 'content-type': type }, redirect: 'manual' });
  } catch (err) {
    return { status: 0, code: 'ConnectionClosed', message: String((err as Error).cause ?? err) };
  }
  const text = await res.text();
  const tag = (name: string) => text.match(new RegExp(`<${name}>([^<]*)</${name}>`))?.[1];
  return { status: res.status, code: tag('Code'), message: tag('Message') };
}

export function uniqueKey(label: string): string {
  return `matrix/${randomBytes(6).toString('hex')}/${label.replace(/[^a-z0-9]+/gi, '-')}.bin`;
}
