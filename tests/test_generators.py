"""Types generated from openapi.yaml are usable: the spec's own examples type-check against them.

Front ends generate TypeScript with openapi-typescript, Python services a client with
openapi-python-client. A spec can be valid and still generate useless types: an array without `items`
becomes `unknown[]`, untitled oneOf branches collapse, an object with `additionalProperties` left out of
a branch becomes `Record<string, never>` and rejects every example. So the test generates both and
type-checks code built from the spec's examples, strictly (`tsc --noEmit --strict`, `mypy --strict`),
with a few lines that must NOT compile, so that types collapsing to `any` would fail too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools import npm
from leadvibe_contract.contract import HTTP_METHODS, Contract, default_spec_path, resolve_ref

BIN = Path(sys.executable).parent


def _npm_bin(*packages: str) -> Path:
    try:
        return npm.ensure(*packages)
    except npm.MissingTool as missing:
        pytest.skip(f"cannot run {', '.join(packages)}: {missing}")


def _examples(document: dict[str, Any], media: dict[str, Any]) -> Iterator[Any]:
    if "example" in media:
        yield media["example"]
    for example in media.get("examples", {}).values():
        yield resolve_ref(document, example)["value"]


def typescript_checks(document: dict[str, Any]) -> tuple[str, int]:
    """A .ts module assigning every example of the spec to the type generated for its place: request
    bodies, responses and component schemas. Returns the source and how many examples it holds."""
    lines = ['import type { components, paths } from "./api";', ""]
    count = 0

    def declare(type_expression: str, value: Any) -> None:
        nonlocal count
        count += 1
        lines.append(f"export const example{count}: {type_expression} = {json.dumps(value)};")

    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            if method not in item:
                continue
            operation = f"paths[{json.dumps(path)}][{json.dumps(method)}]"
            if "requestBody" in item[method]:
                body = resolve_ref(document, item[method]["requestBody"])
                for media_type, media in body["content"].items():
                    for value in _examples(document, media):
                        declare(f'NonNullable<{operation}["requestBody"]>["content"][{json.dumps(media_type)}]', value)
            for status, raw in item[method]["responses"].items():
                for media_type, media in resolve_ref(document, raw).get("content", {}).items():
                    for value in _examples(document, media):
                        type_expression = f'{operation}["responses"][{json.dumps(status)}]["content"]'
                        declare(f"{type_expression}[{json.dumps(media_type)}]", value)
    for name, schema in document["components"]["schemas"].items():
        for value in schema.get("examples", []):
            declare(f'components["schemas"][{json.dumps(name)}]', value)
    # Lines that must not compile: the types say something, they did not collapse to any or unknown.
    lines += [
        'type Ingest = paths["/ingest"]["post"]["requestBody"]["content"]["application/json"];',
        "// @ts-expect-error an event must name its lead (aliases, lead_id or the legacy alias)",
        'export const anonymous: Ingest = { event_type: "page_view" };',
        "// @ts-expect-error every branch is closed: no unknown fields",
        'export const extra: Ingest = { event_type: "page_view", lead_id: "ld_1", score: 3 };',
        'type Problem400 = paths["/ingest"]["post"]["responses"]["400"]["content"]["application/problem+json"];',
        "// @ts-expect-error errors are field errors",
        'export const badErrors: Problem400 = { type: "t", title: "t", status: 400, detail: "d", errors: [1] };',
        'export const metadataIsOpen: components["schemas"]["EventMetadata"] = { path: "/x", n: 1, tags: ["a"] };',
        "// @ts-expect-error a lead's score is a number",
        'export const score: components["schemas"]["Lead"]["score"] = "75";',
    ]
    return "\n".join(lines) + "\n", count


@pytest.mark.slow  # node and tsc
def test_openapi_typescript_types_accept_every_example_of_the_spec(tmp_path: Path, spec: Contract) -> None:
    tools = _npm_bin("openapi-typescript", "typescript")
    generated = subprocess.run(
        [str(tools / "openapi-typescript"), str(default_spec_path()), "-o", str(tmp_path / "api.ts")],
        capture_output=True,
        text=True,
        env=npm.node_env(),
        check=False,
    )
    assert generated.returncode == 0, generated.stderr
    types = (tmp_path / "api.ts").read_text(encoding="utf-8")
    schemas = types[types.index("export interface components") : types.index("export type $defs")]
    assert "Record<string, never>" not in schemas, "an object type that admits no property"
    source, count = typescript_checks(dict(spec.document))
    assert count > 40
    (tmp_path / "check.ts").write_text(source, encoding="utf-8")
    checked = subprocess.run(
        [str(tools / "tsc"), "--noEmit", "--strict", "--target", "es2022", "--moduleResolution", "node10", "check.ts"],
        capture_output=True,
        text=True,
        env=npm.node_env(),
        cwd=tmp_path,
        check=False,
    )
    assert checked.returncode == 0, f"{checked.stdout}\n{checked.stderr}\n{source}"


def python_client_check(document: dict[str, Any], package: str) -> str:
    """A module that builds the ingest body from the spec's preferred example with the generated models,
    sends it through the generated operation (type-checked only), and reads the spec's lead example."""
    body = document["paths"]["/ingest"]["post"]["requestBody"]["content"]["application/json"]
    ingest = body["examples"]["byAliases"]["value"]
    alias = ingest["aliases"][0]
    lead = document["components"]["examples"]["LeadJaneSmith"]["value"]
    return f'''"""Generated by tests/test_generators.py."""
import datetime

from {package} import AuthenticatedClient
from {package}.api.ingestion import ingest_event
from {package}.models import AliasInput, AliasKind, EventMetadata, IngestEventByAliases, Lead
from {package}.types import Unset

INGEST = {ingest!r}
LEAD = {lead!r}


def ingest_body() -> IngestEventByAliases:
    return IngestEventByAliases(
        event_type={ingest["event_type"]!r},
        aliases=[AliasInput(alias_kind=AliasKind({alias["alias_kind"]!r}), raw_value={alias["raw_value"]!r})],
        timestamp=datetime.datetime.fromisoformat({ingest["timestamp"]!r}),
        metadata=EventMetadata.from_dict({ingest["metadata"]!r}),
    )


def send(client: AuthenticatedClient) -> str | None:
    accepted = ingest_event.sync(client=client, body=ingest_body())
    return getattr(accepted, "event_id", None)


def read_lead() -> tuple[str, int, str | None, datetime.datetime | None, str | float | bool]:
    lead = Lead.from_dict(LEAD)
    company: str | float | bool = lead.metadata["company"]
    # A null field may be left out of an answer (openapi.yaml): the client then holds Unset.
    owner = None if isinstance(lead.owner_name, Unset) else lead.owner_name
    last_event_at = None if isinstance(lead.last_event_at, Unset) else lead.last_event_at
    return lead.lead_id, lead.score, owner, last_event_at, company


def main() -> None:
    sent = ingest_body().to_dict()
    timestamp = datetime.datetime.fromisoformat({ingest["timestamp"]!r})
    assert datetime.datetime.fromisoformat(sent.pop("timestamp")) == timestamp
    assert sent == {{key: value for key, value in INGEST.items() if key != "timestamp"}}, sent
    assert read_lead() == ({lead["lead_id"]!r}, {lead["score"]!r}, {lead["owner_name"]!r},
        datetime.datetime.fromisoformat({lead["last_event_at"]!r}), {lead["metadata"]["company"]!r})
    assert Lead.from_dict(LEAD).to_dict()["metadata"] == LEAD["metadata"]
    print("ok")


main()
'''


@pytest.mark.slow
def test_openapi_python_client_builds_the_ingest_example_and_parses_a_lead(tmp_path: Path, spec: Contract) -> None:
    package = "leadvibe_client"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # its ruff post-hooks
    generated = subprocess.run(
        [
            str(BIN / "openapi-python-client"),
            *("generate", "--path", str(default_spec_path()), "--output-path", str(tmp_path / package)),
            *("--meta", "none", "--fail-on-warning"),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    (tmp_path / "check.py").write_text(python_client_check(dict(spec.document), package), encoding="utf-8")
    checked = subprocess.run(
        [str(BIN / "mypy"), "--strict", "--follow-imports=silent", "--no-incremental", "check.py"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**env, "MYPYPATH": str(tmp_path)},
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    ran = subprocess.run([sys.executable, "check.py"], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert (ran.returncode, ran.stdout.strip()) == (0, "ok"), ran.stderr
