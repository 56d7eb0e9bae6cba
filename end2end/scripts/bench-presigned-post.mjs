// AWS JS v3 createPresignedPost on the inputs of server/benches/sign.rs; prints ns per policy.
import { S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';

const client = new S3Client({
  region: 'garage',
  endpoint: 'http://127.0.0.1:3900',
  forcePathStyle: true,
  credentials: { accessKeyId: 'GK0123456789abcdef01234567', secretAccessKey: 'f'.repeat(64) },
});
const input = {
  Bucket: 'uploads',
  Key: 'uploads/0123456789abcdef0123456789abcdef/fedcba9876543210fedcba9876543210/photo.jpg',
  Conditions: [['content-length-range', 5242880, 5242880], { 'Content-Type': 'image/jpeg' }, { success_action_status: '201' }],
  Fields: { 'Content-Type': 'image/jpeg', success_action_status: '201' },
  Expires: 300,
};
const run = async (n) => {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await createPresignedPost(client, input);
  return Number(process.hrtime.bigint() - start) / n;
};
await run(2000); // warm-up
const samples = [];
for (let i = 0; i < 5; i++) samples.push(await run(5000));
samples.sort((a, b) => a - b);
console.log(Math.round(samples[2]));
