// Applies the CORS rule browser uploads need to a bucket: POST from the given origins, any
// header, and ETag/Location exposed so the page can read S3's answer.
// usage: node bucket-cors.mjs ORIGIN...   (bucket and credentials from the AWS_* environment)
import { PutBucketCorsCommand, S3Client } from '@aws-sdk/client-s3';

const origins = process.argv.slice(2);
if (origins.length === 0) {
  console.error('usage: node bucket-cors.mjs ORIGIN...');
  process.exit(2);
}
const s3 = new S3Client({
  endpoint: process.env.AWS_ENDPOINT_URL_S3,
  region: process.env.AWS_REGION,
  forcePathStyle: true,
});
await s3.send(
  new PutBucketCorsCommand({
    Bucket: process.env.UPLOAD_BUCKET,
    CORSConfiguration: {
      CORSRules: [
        {
          AllowedOrigins: origins,
          AllowedMethods: ['POST', 'GET', 'HEAD'],
          AllowedHeaders: ['*'],
          ExposeHeaders: ['ETag', 'Location', 'x-amz-request-id'],
          MaxAgeSeconds: 600,
        },
      ],
    },
  }),
);
console.log(`CORS: ${process.env.UPLOAD_BUCKET} accepts browser uploads from ${origins.join(', ')}`);
