"""boto3's generate_presigned_post at a pinned time, for server/tests/boto3_crosscheck.rs.

stdin: a JSON list of cases; stdout: the JSON list of what boto3 returned for each.
"""
import datetime
import json
import sys

import boto3
import botocore.auth
import botocore.signers
from botocore.config import Config


def pin_clock(unix_seconds):
    now = datetime.datetime.fromtimestamp(unix_seconds, datetime.timezone.utc).replace(tzinfo=None)
    clock = lambda *args, **kwargs: now  # noqa: E731
    # Both the policy's expiration and the x-amz-date come from this function.
    botocore.signers.get_current_datetime = clock
    botocore.auth.get_current_datetime = clock


def client(case):
    """An S3 client for the case's endpoint and credentials, path style, its clock at the case's `now`."""
    pin_clock(case["now"])
    return boto3.client(
        "s3",
        region_name=case["region"],
        endpoint_url=case["endpoint"],
        aws_access_key_id=case["access_key_id"],
        aws_secret_access_key=case["secret_access_key"],
        aws_session_token=case.get("token"),
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def main():
    out = []
    for case in json.load(sys.stdin):
        s3 = client(case)
        out.append(
            s3.generate_presigned_post(
                Bucket=case["bucket"],
                Key=case["key"],
                Fields=case["fields"],
                Conditions=case["conditions"],
                ExpiresIn=case["expires_in"],
            )
        )
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
