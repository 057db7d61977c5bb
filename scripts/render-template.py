"""Renders template.yaml to the plain CloudFormation that `sam deploy` would create, as JSON on
stdout, with AWS's own SAM translator (PyPI aws-sam-translator). The tests check what it
renders: tests/api/template.rs.

Usage: .venv/bin/python scripts/render-template.py template.yaml

As `sam package` does before translating, each function's local CodeUri becomes an S3 URI;
nothing is uploaded, and no AWS service is called.
"""

import json
import os
import sys

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from cfnlint.decode import decode_str  # noqa: E402  (reads CloudFormation's YAML tags)
from samtranslator.translator.transform import transform  # noqa: E402


class NoManagedPolicies:
    """The template names no managed policy, so none needs looking up in IAM."""

    def load(self):
        return {}


def main(path):
    with open(path, encoding="utf-8") as f:
        template, problems = decode_str(f.read())
    if problems:
        sys.exit("\n".join(str(p) for p in problems))
    template = json.loads(json.dumps(template))
    template.get("Globals", {}).get("Function", {}).pop("CodeUri", None)
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = f"s3://graphgate-artifacts/{name}.zip"
    rendered = transform(template, {}, NoManagedPolicies(), passthrough_metadata=True)
    json.dump(rendered, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1])
