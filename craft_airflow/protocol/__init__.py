"""The Craft AI platform contract as plain functions and dataclasses, without I/O.

* :mod:`.http` — request descriptions (:class:`HttpRequest`) and transport results;
* :mod:`.builders` — one builder per platform call (URLs, body encodings);
* :mod:`.readers` — answer decoding and error parsing;
* :mod:`.decisions` — the one table deciding done / not yet / retry / refresh / fail;
* :mod:`.calls` — one call with retries and token refresh, as a generator of steps;
* :mod:`.waiting` — waiting for an execution's outcome (long-poll, endpoint results);
* :mod:`.adoption` — creating an execution without ever creating two;
* :mod:`.statuses`, :mod:`.outcomes` — execution statuses and the outcome of a wait;
* :mod:`.auth`, :mod:`.retry` — when to refresh the access token; when and how long to retry;
* :mod:`.config` — what the protocol reads of a connection (:class:`.config.ClientConfig`).

It imports nothing of the provider but :mod:`craft_airflow.errors`.

Transports (``hooks/craft.py`` with requests, ``hooks/craft_async.py`` with aiohttp) only perform
the :class:`Send` and :class:`Sleep` steps these generators yield.
"""
