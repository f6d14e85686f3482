"""Who may do what: accounts and passwords, logins and their sessions, API tokens, the
permission functions every route and template asks, and the defences every request gets
(security headers, rate limits, token guessing).

* ``permissions`` — the role rules, named once: is_office, may_supervise, may_view,
  may_record, may_correct, may_add_photo, and the route decorators (office_required,
  supervision_required, login_required, role_required).
* ``login`` — logging in and out, each browser's session on the server, and the request
  hook (load_user) that sets ``g.user`` from a session or a Bearer token.
* ``tokens`` — API tokens: made, listed, revoked; only their digests are kept.
* ``users`` — account administration: creating a user, setting a password.
* ``errors`` — AccountError, raised by ``users`` and ``tokens``.
* ``passwords`` — hashing; ``security`` — headers, the secret key, token-guessing limits.
"""
