// Reads the bucket behind the app's back, with the same credentials the app signs with, to
// check what really got stored.
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

function need(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through scripts/test.sh`);
  return value;
}

export const bucket = need('UPLOAD_BUCKET');
export const endpoint = need('AWS_ENDPOINT_URL_S3');
export const secret = need('AWS_SECRET_ACCESS_KEY');

const s3 = new S3Client({
  endpoint,
  region: need('AWS_REGION'),
  forcePathStyle: true,
  credentials: { accessKeyId: need('AWS_ACCESS_KEY_ID'), secretAccessKey: secret },
});

export async function getObject(key: string): Promise<{ body: Buffer; contentType?: string }> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return { body: Buffer.from(await out.Body!.transformToByteArray()), contentType: out.ContentType };
}

export async function exists(key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (err: any) {
    if (err?.$metadata?.httpStatusCode === 404) return false;
    throw err;
  }
}

export async function keysUnder(prefix: string): Promise<string[]> {
  const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key!);
}
