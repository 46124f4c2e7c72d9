"""A stateful stand-in for the Atlassian admin APIs, so demos, tests and benchmarks need no tenant.

Run it with `atlassian-operator simulate --port 0 --org-id ORG --api-key KEY --users N --seed S
[--page-size 100] [--rate-limit-per-minute R] [--rate-limit-signal retry-after|reset|none]
[--rate-limit-window-seconds 60] [--scim-every 25]` (or `python -m atlassian_operator.simulator`
with the same flags). It prints one line, `simulator listening on http://HOST:PORT`, and serves
until SIGTERM/SIGINT. The base URL plays the role of https://api.atlassian.com. Tests start it
through `tests/support/simulator.py` (`start_simulator(...)`).

Atlassian API (shapes from specs/atlassian/admin_organization.json and admin_user.json):
- `GET /admin/v1/orgs/{orgId}/users[?cursor=C]` -> UserPage `{data, meta: {total}, links: {self,
  prev?, next?}}`; links are full URLs; users in ascending account-id order; `--page-size` users
  per page. A cursor names a position by account id, so users added or removed between pages
  never make a user that exists throughout be skipped or listed twice.
  401 ProxyError `{code: 401, message}` without `Authorization: Bearer KEY`; 404 ADMIN-404-2 for
  another org id; 400 ADMIN-400-1 for a cursor the simulator did not issue.
- `POST /users/{id}/manage/lifecycle/disable` (body `{"message"?: str}`, `{}` or empty) and
  `POST /users/{id}/manage/lifecycle/enable` -> 204; `account_status` becomes inactive/active,
  `access_billable` false on disable (true again on enable if the user has product access).
  Repeating an action is an idempotent 204 and is recorded again. 401 `{"key": "unauthorized"}`;
  404 `{"key": "accountNotFound"}` for unknown or removed users; 403 `{"key": "forbidden.action",
  "context": {"allowed": false, "reason": {"key": "externalDirectory.scim"}}}` for SCIM users;
  403 `{"key": "forbidden"}` for closed users (state unchanged); 400 `{"key": "badRequest"}` for a
  disable body that is not `{"message"?: str}` (the spec declares no 400: only broken clients
  see it).
- Rate limit (all API routes, off by default): fixed windows aligned to multiples of the window
  length since the epoch (60 s windows = wall-clock minutes). With a limit set, every API
  response has X-RateLimit-Limit and X-RateLimit-Remaining, and X-RateLimit-Reset
  (yyyy-MM-ddTHH:mmZ, the window end rounded up to the minute: exact for 60 s windows, never
  early for shorter ones) unless the signal is `none`. Over the limit: 429 ProxyError
  `{code: 429, message}`, plus `Retry-After: <whole seconds, rounded up>` when the signal is
  `retry-after`. Refused requests do not use up the budget. Short windows: rely on Retry-After.

Admin API under /_sim (no auth; JSON; not part of Atlassian's API; errors are 400/404/409
`{"error": "..."}`; admin calls are neither logged nor rate limited):
- `GET /_sim/state` -> `{org_id, users, page_size, rate_limit, faults, base_url}`;
  `POST /_sim/reset` -> back to the startup state (users, faults, log, rate limit).
- `GET /_sim/requests[?endpoint=E]` -> `{requests: [{seq, time, method, path, query, status,
  endpoint, body, fault}]}`; endpoint is list_users|disable|enable|other, body the parsed JSON
  body or null, status null when the connection was reset, fault the injected kind or null.
  Headers are never recorded. `DELETE /_sim/requests` clears the log.
- `GET /_sim/users` -> `{users: [entry...]}` in listing order; `GET /_sim/users/{id}` -> entry or
  404; an entry is `{user: <User exactly as listed>, scim: bool, lifecycle: [{action, message,
  time}]}`. `POST /_sim/users` with User fields (`account_id` required; defaults: atlassian,
  active, name "User {id}", a picture, access_billable false, product_access []) and optional
  `scim` -> 201 entry (409 if the id exists, 400 if a field is outside the spec's User).
  `PATCH /_sim/users/{id}` with any User fields and/or `scim` (null removes an optional field,
  e.g. email) -> 200 entry. `DELETE /_sim/users/{id}` -> 204.
- `POST /_sim/faults` `{endpoint: list_users|disable|enable, kind: status|malformed|reset|slow,
  page?: k (list_users, 1-based), account_id? (disable/enable), status?: 503, delay_seconds?: 1.0,
  times?: 1, headers?: {name: value}}` -> 201. A fault hits requests that passed the rate limit
  and authentication (and, for listings, the org and cursor checks); the first matching fault
  is used, `times` times. status: that status with a ProxyError body (500 on list_users:
  ADMIN-500-1); malformed: 200 with truncated JSON; reset: the connection is dropped with a TCP
  reset and no response; slow: sleeps, then answers normally. `GET /_sim/faults` lists pending
  faults; `DELETE /_sim/faults` clears them.
- `PUT /_sim/rate-limit` `{per_minute: R|null, signal?: "retry-after", window_seconds?: 60}`
  replaces the limiter (fresh budget); `GET /_sim/rate-limit` shows it. `per_minute` is the
  number of requests per window, whatever the window length.

Generated data is a pure function of (--seed, --users, --scim-every): 24-hex account ids,
~85% active / ~10% inactive / ~5% closed, ~5% without email, ~5% without product access (either
an empty list or no field), products on two sites (acme, acme-support), dates back from a fixed
instant. Every K-th generated user (by generation index) is SCIM-synced.
"""
