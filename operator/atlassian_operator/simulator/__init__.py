"""A stateful stand-in for the Atlassian admin APIs, so demos, tests and benchmarks need no tenant.

Run it with `atlassian-operator simulate --port 0 --org-id ORG --api-key KEY --users N --seed S
[--page-size 100] [--rate-limit-per-minute R] [--rate-limit-signal retry-after|reset|none]
[--rate-limit-window-seconds 60] [--scim-every 25] [--admins 1] [--unmanaged 2]` (or
`python -m atlassian_operator.simulator` with the same flags). It prints one line,
`simulator listening on http://HOST:PORT`, and serves until SIGTERM/SIGINT. The base URL plays
the role of https://api.atlassian.com. Tests start it through `tests/support/simulator.py`
(`start_simulator(...)`, which adds no admins and no unmanaged users unless asked).

Atlassian API (shapes from specs/atlassian/admin_organization.json and admin_user.json, and for
v2 from API-NOTES-v2 §9):
- `GET /admin/v1/orgs/{orgId}/users[?cursor=C]` -> UserPage `{data, meta: {total}, links: {self,
  prev?, next?}}` of the managed users only ("Get managed accounts"; `meta.total` counts them);
  links are full URLs; users in ascending account-id order; `--page-size` users per page.
  A cursor names a position by account id, so users added or removed between pages
  never make a user that exists throughout be skipped or listed twice.
  401 ProxyError `{code: 401, message}` without `Authorization: Bearer KEY`; 404 ADMIN-404-2 for
  another org id; 400 ADMIN-400-1 for a cursor the simulator did not issue.
- `POST /admin/v2/orgs/{orgId}/directories/{directoryId}/users/search` (body UserSearchRequest,
  search.py says which filters do what) -> `{data: [User], links: {self, next?}}`: every
  account of type atlassian, managed or not, in ascending account-id order (or by nickname with
  `sortBy`), `limit` (default 50, 1..100) per page. The v2 User is camelCase (directory.py):
  accountId, accountType, status (§1.5's composite; omitted for closed accounts), accountStatus,
  membershipStatus (always active: no v2 suspend), addedToOrg, name, nickname, email and
  emailVerified (absent without an email), claimStatus, managementSource (null = undetermined),
  mfaEnabled, picture; with `expand`: platformRoles, counts {resources}, productAccess [{key
  (jira for every jira-*), id (ari:cloud:<key>::site/<cloud id of the site's host>),
  lastActiveTimestamp (the v1 time in UTC with 9 fractional digits and Z)}] for products with
  a v1 last_active, groups [{id, name, description: null}] (one group per v1 product and site).
  Links are opaque base64url cursors, not URLs, that carry the request and the position: send
  one alone or with the original fields; it wins over them, `limit` included. `directoryId` is
  `-` or the org's one directory (`directory_id` in /_sim/state), else 404 ADMIN-404-1.
  Errors use the `{errors: [{id, status, code, title, detail}]}` envelope: 401 ADMIN-401-2;
  404 ADMIN-404-2 (org); 415 ADMIN-UAM-415-1 without `Content-Type: application/json` (so a
  body-less POST gets it; an empty body with that type reads as {}); 400 ADMIN-400-24 for a body
  that is not JSON or not a UserSearchRequest (unknown field, wrong type, value outside §9's
  enums, limit outside 1..100, more than one sortBy, searchTerm together with emails); 400
  ADMIN-400-1 for a cursor the simulator did not issue; 429 ADMIN-429-1.
- `GET /users/{id}/manage[?privileges=P]` (repeated, comma-joined or both; none means
  lifecycle.enablement) -> 200 with one rule per requested privilege (manage.py):
  `{"lifecycle.enablement": {"allowed": true}}`, or for SCIM users `{"allowed": false,
  "reason": {"key": "externalDirectory.scim"}}`. 401 `{"key": "unauthorized"}`; 404
  `{"key": "accountNotFound"}`; 403 `{"key": "forbidden.targetUnverified"}` for unmanaged users
  and `{"key": "forbidden"}` for closed ones (as disable/enable answer them); 400
  `{"key": "badRequest"}` for a privilege outside the spec's enum (the spec declares no 400).
- `POST /users/{id}/manage/lifecycle/disable` (body `{"message"?: str}`, `{}` or empty) and
  `POST /users/{id}/manage/lifecycle/enable` -> 204; `account_status` becomes inactive/active,
  `access_billable` false on disable (true again on enable if the user has product access).
  Repeating an action is an idempotent 204 and is recorded again. 401 `{"key": "unauthorized"}`;
  404 `{"key": "accountNotFound"}` for unknown or removed users; 403
  `{"key": "forbidden.targetUnverified"}` for unmanaged users; 403 `{"key": "forbidden.action",
  "context": {"allowed": false, "reason": {"key": "externalDirectory.scim"}}}` for SCIM users;
  403 `{"key": "forbidden"}` for closed users (state unchanged); 400 `{"key": "badRequest"}` for a
  disable body that is not `{"message"?: str}` (the spec declares no 400: only broken clients
  see it).
- Rate limit (all API routes, one budget, off by default): fixed windows aligned to multiples
  of the window length since the epoch (60 s windows = wall-clock minutes). With a limit set,
  every API response has X-RateLimit-Limit and X-RateLimit-Remaining, and X-RateLimit-Reset
  (yyyy-MM-ddTHH:mmZ, the window end rounded up to the minute: exact for 60 s windows, never
  early for shorter ones) unless the signal is `none`. Over the limit: 429 ProxyError
  `{code: 429, message}` (the v2 search: its Errors envelope, ADMIN-429-1), plus
  `Retry-After: <whole seconds, rounded up>` when the signal is `retry-after`. Refused requests
  do not use up the budget. Short windows: rely on Retry-After.

Admin API under /_sim (no auth; JSON; not part of Atlassian's API; errors are 400/404/409
`{"error": "..."}`; admin calls are neither logged nor rate limited):
- `GET /_sim/state` -> `{org_id, directory_id, users, page_size, rate_limit, faults, base_url}`
  (users: all of them, managed or not);
  `POST /_sim/reset` -> back to the startup state (users, faults, log, rate limit).
- `GET /_sim/requests[?endpoint=E]` -> `{requests: [{seq, time, method, path, query, status,
  endpoint, body, fault, client}]}`, in the order they were answered (time); endpoint is
  list_users|search_users|manage|disable|enable|other, body the parsed JSON body or null, status
  null when the connection was reset, fault the injected kind or null, client the sender's IP
  address (which of several operator Pods sent it).
  Headers are never recorded. `DELETE /_sim/requests` clears the log.
- `GET /_sim/users` -> `{users: [entry...]}` of every user (unmanaged ones too) in account-id
  order; `GET /_sim/users/{id}` -> entry or 404; an entry is `{user: <User exactly as listed
  (v1 shape, also for unmanaged users, whom v1 does not list)>, scim: bool, lifecycle: [{action,
  message, time}], claimStatus: managed|unmanaged, platformRoles: [role...], managementSource:
  invited|synced|null}`. `POST /_sim/users` with User fields (`account_id` required; defaults:
  atlassian, active, name "User {id}", a picture, access_billable false, product_access []),
  optional `scim` and v2 attributes (defaults: managed, [], synced if scim else invited) -> 201
  entry (409 if the id exists, 400 if a field is outside the spec's User or a v2 attribute
  outside §9: claimStatus managed|unmanaged, platformRoles from atlassian/org-admin|site-admin|
  user-access-admin|ai-access, managementSource invited|synced|null). `PATCH /_sim/users/{id}`
  with any of those (null removes an optional User field, e.g. email; managementSource null
  means undetermined) -> 200 entry; changing `scim` without naming managementSource moves it
  along (synced/invited), naming it lets v2 and the lifecycle API disagree on purpose.
  `DELETE /_sim/users/{id}` -> 204.
- `POST /_sim/faults` `{endpoint: list_users|search_users|manage|disable|enable, kind:
  status|malformed|reset|slow, page?: k (list_users/search_users, 1-based: the k-th page of a
  walk, whatever its filters), account_id? (manage/disable/enable), status?: 503,
  delay_seconds?: 1.0, times?: 1, headers?: {name: value}}` -> 201. A fault hits requests that
  passed the rate limit and authentication (and, for listings, the org, directory, body and
  cursor checks); the first matching fault is used, `times` times. status: that status with a
  ProxyError body (500 on list_users: ADMIN-500-1; on search_users 400/401/403/404/429/500 get
  the Errors envelope); malformed: 200 with truncated JSON; reset: the connection is dropped
  with a TCP reset and no response; slow: sleeps, then answers normally. `GET /_sim/faults`
  lists pending faults; `DELETE /_sim/faults` clears them.
- `PUT /_sim/rate-limit` `{per_minute: R|null, signal?: "retry-after", window_seconds?: 60}`
  replaces the limiter (fresh budget); `GET /_sim/rate-limit` shows it. `per_minute` is the
  number of requests per window, whatever the window length.

Generated data is a pure function of (--seed, --users, --scim-every): 24-hex account ids,
~85% active / ~10% inactive / ~5% closed, ~5% without email, ~5% without product access (either
an empty list or no field), products on two sites (acme, acme-support), dates back from a fixed
instant. Every K-th generated user (by generation index) is SCIM-synced (managementSource
synced); the others are invited, managed, without platform roles. Then, from their own ids and
random streams (so the users above stay byte-identical): `--admins N` managed, active, billable
users with product access holding atlassian/org-admin (org.admin{i}@acme.example), and
`--unmanaged N` active users with product access on an unclaimed domain
(first.last{i}@partner.example): in the v2 search, not in the v1 listing, refused by the
lifecycle and manage calls with forbidden.targetUnverified.
"""
