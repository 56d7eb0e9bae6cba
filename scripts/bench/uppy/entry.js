// What a page needs for Uppy's Dashboard uploading straight to S3 (the reference for bytes shipped).
import Uppy from '@uppy/core';
import Dashboard from '@uppy/dashboard';
import AwsS3 from '@uppy/aws-s3';

new Uppy()
  .use(Dashboard, { inline: true, target: '#uppy' })
  .use(AwsS3, { endpoint: '/companion' });
