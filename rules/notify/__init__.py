"""The notifier: alert events out to patrol handsets, webhooks, chat and e-mail, and the city platform.

One module per decision, in the order an event meets them:

    config      the routing file (receivers, routes, schedules), validated with line numbers
    routing     which routes take an alert (matching)
    schedule    who is on duty now
    policy      when to remind and when to escalate (pure, `now` passed in)
    messages    what the message says (Jinja2 templates, zh and en, registry places, actions)
    planner     event -> deliveries with their final bytes
    ledger      cursor, deliveries, attempts, tracks in SQL (the store's database)
    backoff     when to try again
    channels/   mqtt, webhook (also CloudEvents), apprise: each says whether a failure is retryable
    service     the threads that run it all
    status, ngsi_ld   the city platform's building snapshot and FIWARE parking entities
"""
