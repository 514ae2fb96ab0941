"""The editor's desk: ``summarizer serve``, a web page and an HTTP API for briefs.

store    SQLite (WAL) under the data dir: one row per brief, keyed like the batch ledger
intake   request bodies (JSON, a file upload, raw text) -> Article, with the CLI's messages
work     the queue, the workers and the one model client (embedded server or --base-url)
guard    bearer token, Host/Origin checks, body limit, per-client rate limit (ASGI middleware)
api      the Starlette app: routes and error bodies
openapi  the OpenAPI document of the API, from the pydantic models the answers are made of
page     the desk page (a paste box, a file drop, the brief view), CSP-hashed like the brief
server   binding, the loopback/token rule, uvicorn
"""
