"""boto3's generate_presigned_url at a pinned time, for server/tests/boto3_presign.rs.

stdin: a JSON list of cases; stdout: the JSON list of the URLs boto3 made.
"""
import json
import sys

# The same client and pinned clock as the POST cross-check (this directory is on the path).
from boto3_post import client


def main():
    out = []
    for case in json.load(sys.stdin):
        s3 = client(case)
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
