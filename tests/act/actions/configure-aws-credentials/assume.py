"""Assume ROLE on the moto server and append the credentials to $GITHUB_ENV (the stand-in's one step)."""

import os

import boto3

endpoint, region, role = os.environ["BRANCHLINE_ACT_AWS_ENDPOINT"], os.environ["REGION"], os.environ["ROLE"]
sts = boto3.client("sts", endpoint_url=endpoint, region_name=region, aws_access_key_id="oidc",
                   aws_secret_access_key="oidc")
credentials = sts.assume_role(RoleArn=role, RoleSessionName="GitHubActions")["Credentials"]
exported = {"AWS_ACCESS_KEY_ID": credentials["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"], "AWS_REGION": region, "AWS_DEFAULT_REGION": region,
            "AWS_ENDPOINT_URL": endpoint}
with open(os.environ["GITHUB_ENV"], "a", encoding="utf-8") as env:
    env.writelines(f"{key}={value}\n" for key, value in exported.items())
print(f"assumed {role} in {region}")
