"""Who may do what: accounts and passwords, logins and their sessions, API tokens, the
permission functions every route and template asks, and the defences every request gets
(security headers, rate limits, token guessing)."""
