#!/usr/bin/env python3
"""Builds the fuzz targets' seed corpora from ../shared (Slack fixtures,
Teams examples, Graph examples) plus a few hand-written inputs. Writes
fuzz/corpus/<target>/; run by fuzz/run.sh."""
import json, pathlib, re, sys, urllib.parse

root = pathlib.Path(__file__).resolve().parent
shared = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root.parent.parent / "shared"
corpus = root / "corpus"

def put(target, name, data):
    d = corpus / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())

def json_blocks(md):
    return re.findall(r"```(?:json|jsonc|http)?\n(.*?)```", md, re.S)

for f in sorted((shared / "slack" / "fixtures").glob("*")):
    text = f.read_text()
    if f.name.endswith(".form.txt"):
        put("slack_body", f.name, text.strip())
    elif f.suffix == ".json":
        put("slack_body", f.name, "payload=" + urllib.parse.quote(text))

for f in sorted((shared / "teams" / "examples").glob("activity-*")):
    put("teams_activity", f.name, f.read_text())

graph = shared / "graph" / "examples"
for name, target in [("change-notifications.md", "graph_notification"),
                     ("em-custom-extension-and-callout.md", "callout")]:
    path = graph / name
    if path.exists():
        for i, block in enumerate(json_blocks(path.read_text())):
            put(target, f"{path.stem}-{i}", block)

for i, text in enumerate([
    "request global-admin TICKET-123 rotate the break-glass certificate",
    "<at>stagegate</at> request priv-role-admin INC-9 why", "status", "pending",
    "cancel 5f2c1a4e-0000-4000-8000-000000000001", "link", "unlink", "help",
]):
    put("command", f"seed-{i}", text)

put("jwt_header", "rs256", "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.e30.sig")
put("jwt_header", "none", "eyJhbGciOiJub25lIn0.e30.")
put("oauth_query", "callback", "code=0.Aabc&state=xyz&session_state=s")
put("oauth_query", "error", "error=access_denied&error_description=AADSTS65004%3A+declined&state=xyz")
put("oauth_query", "start", "t=abcdefghijklmnopqrstuvwxyz012345")
put("auth_start_form", "token", "t=abcdefghijklmnopqrstuvwxyz012345")
put("auth_start_form", "repeated", "t=a&t=b&extra=1")
put("auth_start_form", "escaped", "t=%3Cscript%3E%00")
example = root.parent / "stagegate.example.toml"
put("config", "example", example.read_text())
put("config", "sandbox", (root.parent / "sandbox" / "stagegate.sandbox.toml").read_text())
print(f"seeded {sum(1 for _ in corpus.rglob('*') if _.is_file())} inputs into {corpus}")
