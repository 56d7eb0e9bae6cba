// Reads what really got stored, behind the app's back: from Garage with the S3 API and the
// credentials the app signs with, from the dev bucket with plain GETs and its data directory.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

/** A setting scripts/test.sh exports for the tests. */
export function need(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through scripts/test.sh`);
  return value;
}

export interface Backend {
  /** Where forms are POSTed: `${endpoint}/${bucket}`. */
  endpoint: string;
  bucket: string;
  /** The secret the app signs with, which must never reach a browser. */
  secret: string;
  /** Environment for `server sign` to sign forms for this bucket. */
  signEnv: Record<string, string>;
  getObject(key: string): Promise<{ body: Buffer; contentType?: string; metadata: Record<string, string> }>;
  exists(key: string): Promise<boolean>;
  keysUnder(prefix: string): Promise<string[]>;
  /** The keys of the multipart uploads under way (ListMultipartUploads). */
  multipartUploads(): Promise<string[]>;
}

function garage(): Backend {
  const endpoint = need('AWS_ENDPOINT_URL_S3');
  const bucket = need('UPLOAD_BUCKET');
  const secret = need('AWS_SECRET_ACCESS_KEY');
  const s3 = new S3Client({
    endpoint,
    region: need('AWS_REGION'),
    forcePathStyle: true,
    credentials: { accessKeyId: need('AWS_ACCESS_KEY_ID'), secretAccessKey: secret },
  });
  return {
    endpoint,
    bucket,
    secret,
    signEnv: {},
    async getObject(key) {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return { body: Buffer.from(await out.Body!.transformToByteArray()), contentType: out.ContentType, metadata: out.Metadata ?? {} };
    },
    async exists(key) {
      try {
        await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return true;
      } catch (err: any) {
        if (err?.$metadata?.httpStatusCode === 404) return false;
        throw err;
      }
    },
    async keysUnder(prefix) {
      const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
      return (out.Contents ?? []).map((o) => o.Key!);
    },
    async multipartUploads() {
      const out = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'uploads/' }));
      return (out.Uploads ?? []).map((u) => u.Key!);
    },
  };
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)],
  );
}

function devBucket(endpointVar = 'DEV_BUCKET_ENDPOINT', dataVar = 'DEV_DATA_DIR'): Backend {
  const endpoint = need(endpointVar);
  const bucket = 'dev-uploads';
  const dataDir = need(dataVar);
  const url = (key: string) => `${endpoint}/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  return {
    endpoint,
    bucket,
    secret: need('UPLOAD_DEV_SECRET_ACCESS_KEY'),
    signEnv: {
      UPLOAD_BUCKET: bucket,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_ACCESS_KEY_ID: need('UPLOAD_DEV_ACCESS_KEY_ID'),
      AWS_SECRET_ACCESS_KEY: need('UPLOAD_DEV_SECRET_ACCESS_KEY'),
    },
    async getObject(key) {
      const res = await fetch(url(key));
      if (!res.ok) throw new Error(`GET ${key}: HTTP ${res.status}`);
      const metadata = Object.fromEntries(
        [...res.headers].filter(([name]) => name.startsWith('x-amz-meta-')).map(([name, value]) => [name.slice('x-amz-meta-'.length), value]),
      );
      return { body: Buffer.from(await res.arrayBuffer()), contentType: res.headers.get('content-type') ?? undefined, metadata };
    },
    async exists(key) {
      const res = await fetch(url(key), { method: 'HEAD' });
      if (res.status === 404) return false;
      if (res.ok) return true;
      throw new Error(`HEAD ${key}: HTTP ${res.status}`);
    },
    async keysUnder(prefix) {
      const root = path.join(dataDir, bucket);
      return walk(path.join(root, prefix)).map((file) => path.relative(root, file));
    },
    async multipartUploads() {
      // Each upload's directory holds its key in upload.json.
      const dir = path.join(dataDir, '.multipart');
      if (!existsSync(dir)) return [];
      return readdirSync(dir).flatMap((id) => {
        try {
          return [JSON.parse(readFileSync(path.join(dir, id, 'upload.json'), 'utf8')).key as string];
        } catch {
          return [];
        }
      });
    },
  };
}

/** The bucket behind a Playwright project. */
export function backendFor(project: string): Backend {
  if (project === 'dev-parts') return devBucket('DEV_PARTS_BUCKET_ENDPOINT', 'DEV_PARTS_DATA_DIR');
  if (project === 'put-dev') return devBucket('DEV_PUT_BUCKET_ENDPOINT', 'DEV_PUT_DATA_DIR');
  if (project === 'md5-b2') return devBucket('DEV_B2_BUCKET_ENDPOINT', 'DEV_B2_DATA_DIR');
  if (project === 'r2-dev') return devBucket('DEV_R2_BUCKET_ENDPOINT', 'DEV_R2_DATA_DIR');
  if (project === 'token-dev') return devBucket('TOKEN_BUCKET_ENDPOINT', 'TOKEN_DATA_DIR');
  if (project === 'proxy-dev') return devBucket('PROXY_BUCKET_ENDPOINT', 'PROXY_DATA_DIR');
  return project === 'dev-bucket' ? devBucket() : garage();
}

/** Every file under the dev bucket's data directory, temp files included. */
export function devDataFiles(): string[] {
  return walk(need('DEV_DATA_DIR'));
}
