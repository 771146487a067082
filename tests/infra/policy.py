"""Read the CloudFormation templates as data and evaluate their IAM policies, for the structural tests.

Two small pieces, each documented with its limits:

- `render`: resolves the intrinsics our templates use (`Fn::Sub`, `Ref`, `Fn::GetAtt ...Arn`, `Fn::If`,
  `Fn::Equals`/`Fn::Not` conditions) for given parameter values, so a policy reads as it would in an account;
- `allows`: does any Allow statement match an action and a resource ARN? IAM wildcard semantics (`*` any run
  of characters, `?` one; actions case-insensitive). Conditions are ignored, which over-approximates what
  is allowed: a "cannot reach" result is therefore sound.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from cfnlint.decode.decode import decode_str

from branchline.aws import infra

ACCOUNT = "123456789012"
REGION = "us-east-1"
PSEUDO = {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": "aws", "AWS::NoValue": None}
_SUB = re.compile(r"\$\{([^}]+)\}")


def load(stack: str) -> dict[str, Any]:
    """The template as plain dicts/lists (intrinsics in their long form: `{"Fn::Sub": ...}`)."""
    template, errors = decode_str(infra.template_text(stack))
    assert not errors, errors
    return _plain(template)


def _plain(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node if not isinstance(node, str) else str(node)


class Rendering:
    """One template rendered with one set of parameter values."""

    def __init__(self, template: dict[str, Any], params: Mapping[str, str], account: str = ACCOUNT) -> None:
        self.template = template
        self.account = account
        self.pseudo = PSEUDO | {"AWS::AccountId": account}
        declared = template.get("Parameters", {})
        self.params = {k: str(v.get("Default", "")) for k, v in declared.items()} | dict(params)
        self.conditions = {name: self._condition(body) for name, body in template.get("Conditions", {}).items()}

    def _condition(self, body: Any) -> bool:
        (op, args), = body.items()
        if op == "Fn::Equals":
            left, right = (self.value(a) for a in args)
            return str(left) == str(right)
        if op == "Fn::Not":
            return not self._condition(args[0])
        if op == "Fn::Or":
            return any(self._condition(a) for a in args)
        if op == "Fn::And":
            return all(self._condition(a) for a in args)
        if op == "Condition":
            return self.conditions[args]
        raise AssertionError(f"condition {op} not supported by the test renderer")

    def _name_of(self, logical_id: str) -> str:
        props = self.template["Resources"][logical_id].get("Properties", {})
        for key in ("RoleName", "BucketName", "RepositoryName", "LogGroupName", "JobQueueName"):
            if key in props and self.value(props[key]):
                return str(self.value(props[key]))
        return logical_id.lower()

    def _arn(self, logical_id: str) -> str:
        kind = self.template["Resources"][logical_id]["Type"]
        name = self._name_of(logical_id)
        return {
            "AWS::IAM::Role": f"arn:aws:iam::{self.account}:role/{name}",
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::ECR::Repository": f"arn:aws:ecr:{REGION}:{self.account}:repository/{name}",
            "AWS::IAM::OIDCProvider": f"arn:aws:iam::{self.account}:oidc-provider/token.actions.githubusercontent.com",
        }.get(kind, f"arn:aws:{kind}:{name}")

    def _ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return self.params[name]
        kind = self.template["Resources"][name]["Type"]
        return self._arn(name) if kind == "AWS::IAM::OIDCProvider" else self._name_of(name)

    def _attr(self, dotted: str) -> str:
        logical_id, attr = dotted.split(".", 1)
        assert attr == "Arn", f"GetAtt {dotted} not supported by the test renderer"
        return self._arn(logical_id)

    def value(self, node: Any) -> Any:
        """`node` with every intrinsic resolved."""
        if isinstance(node, list):
            return [v for v in (self.value(x) for x in node) if v is not None]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                return self._attr(arg if isinstance(arg, str) else ".".join(arg))
            if key == "Fn::If":
                return self.value(arg[1] if self.conditions[arg[0]] else arg[2])
            if key == "Fn::Sub":
                return _SUB.sub(lambda m: str(self._attr(m[1]) if "." in m[1] else self._ref(m[1])), arg)
        return {k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not None}

    def resource(self, logical_id: str) -> dict[str, Any]:
        return self.value(self.template["Resources"][logical_id])


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(role: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every statement of a rendered role's inline policies."""
    for policy in role["Properties"].get("Policies", []):
        yield from policy["PolicyDocument"]["Statement"]


def _glob(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.IGNORECASE if ignore_case else 0)


def allows(statements: list[dict[str, Any]], action: str, resource: str) -> list[str]:
    """Sids of the Allow statements that grant `action` on `resource` (conditions ignored)."""
    granted = []
    for st in statements:
        if st["Effect"] != "Allow":
            continue
        if not any(_glob(a, ignore_case=True).fullmatch(action) for a in as_list(st["Action"])):
            continue
        if any(_glob(r).fullmatch(resource) for r in as_list(st["Resource"])):
            granted.append(st.get("Sid", "?"))
    return granted


def policy_document(document: Any) -> dict[str, Any]:
    """A policy document as IAM returns it: moto gives inline policies as JSON or as a Python literal."""
    if isinstance(document, dict):
        return document
    try:
        return dict(json.loads(document))
    except json.JSONDecodeError:
        return dict(ast.literal_eval(document))
