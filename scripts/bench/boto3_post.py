"""boto3 generate_presigned_post on the inputs of server/benches/sign.rs; prints ns per policy."""
import statistics
import timeit

import boto3
from botocore.config import Config

s3 = boto3.client(
    "s3",
    region_name="garage",
    endpoint_url="http://127.0.0.1:3900",
    aws_access_key_id="GK0123456789abcdef01234567",
    aws_secret_access_key="f" * 64,
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
)


def sign():
    s3.generate_presigned_post(
        Bucket="uploads",
        Key="uploads/0123456789abcdef0123456789abcdef/fedcba9876543210fedcba9876543210/photo.jpg",
        Fields={"Content-Type": "image/jpeg", "success_action_status": "201"},
        Conditions=[["content-length-range", 5242880, 5242880], {"Content-Type": "image/jpeg"}, {"success_action_status": "201"}],
        ExpiresIn=300,
    )


sign()
n = 2000
runs = timeit.repeat(sign, number=n, repeat=5)
print(round(statistics.median(runs) / n * 1e9))
