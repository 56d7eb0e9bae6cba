"""boto3's generate_presigned_url at a pinned time, for server/tests/boto3_presign.rs.

stdin: a JSON list of cases; stdout: the JSON list of the URLs boto3 made.
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
    botocore.signers.get_current_datetime = clock
    botocore.auth.get_current_datetime = clock


def main():
    out = []
    for case in json.load(sys.stdin):
        pin_clock(case["now"])
        s3 = boto3.client(
            "s3",
            region_name=case["region"],
            endpoint_url=case["endpoint"],
            aws_access_key_id=case["access_key_id"],
            aws_secret_access_key=case["secret_access_key"],
            aws_session_token=case.get("token"),
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )
        if case["operation"] == "upload_part":
            params = {
                "Bucket": case["bucket"],
                "Key": case["key"],
                "UploadId": case["upload_id"],
                "PartNumber": case["part_number"],
                "ContentLength": case["length"],
                "ChecksumSHA256": case["sha256"],
            }
        else:
            params = {"Bucket": case["bucket"], "Key": case["key"], "ResponseContentType": case["response_type"]}
        out.append(s3.generate_presigned_url(case["operation"], Params=params, ExpiresIn=case["expires_in"]))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
