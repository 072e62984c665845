"""Every answer of /api/v1 in the tests is checked against the OpenAPI document the app serves:
its route, method and status must be documented, and a JSON body must match the schema, which
refuses unknown fields (additionalProperties: false) and requires the promised ones. So the
document cannot drift from what the handlers return without a test failing."""
from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
from flask.testing import FlaskClient

PREFIX = "/api/v1"


class Undocumented(AssertionError):
    pass


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node and node["$ref"].startswith("#/components/responses/"):
        node = doc["components"]["responses"][node["$ref"].rsplit("/", 1)[1]]
    return node


def operation(doc: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    """The documented operation for a request path (None: no such route is documented)."""
    for template, ops in doc["paths"].items():
        pattern = "^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            return ops.get(method.lower())
    return None


def check(doc: dict[str, Any], method: str, path: str, status: int, content_type: str,
          body: bytes) -> None:
    """Raise Undocumented when the answer is not what the document says."""
    op = operation(doc, method, path)
    if op is None:
        return  # not a route of the API (404) or a method it does not have (405): see below
    responses = op["responses"]
    response = responses.get(str(status)) or responses.get("default")
    if response is None:
        raise Undocumented(f"{method} {path}: status {status} is not documented")
    response = _resolve(doc, response)
    content = response.get("content", {})
    media = content_type.split(";")[0].strip()
    if not content:
        if body:
            raise Undocumented(f"{method} {path} {status}: a body where none is documented")
        return
    if media not in content and "*/*" not in content and \
            f"{media.split('/')[0]}/*" not in content:
        raise Undocumented(f"{method} {path} {status}: {media} is not documented "
                           f"(only {', '.join(content)})")
    if media != "application/json":
        return
    schema = {**content[media].get("schema", {}), "components": doc["components"]}
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(json.loads(body)),
                    key=lambda e: list(e.absolute_path))
    if errors:
        raise Undocumented(f"{method} {path} {status}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}"
            for e in errors[:5]))


class CheckedClient(FlaskClient):
    """The Flask test client, with every /api/v1 answer checked against the served document."""

    _doc: dict[str, Any] | None = None

    def open(self, *args: Any, **kwargs: Any) -> Any:
        response = super().open(*args, **kwargs)
        request = response.request
        if request.path.startswith(PREFIX):
            if self._doc is None:
                plain = FlaskClient(self.application, self.application.response_class)
                self._doc = plain.get(f"{PREFIX}/openapi.json").get_json()
            check(self._doc, request.method, request.path, response.status_code,
                  response.content_type or "", response.get_data())
        return response
