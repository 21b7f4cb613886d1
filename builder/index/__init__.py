"""Talking to package indexes, and the one HTTP layer every download goes through.

Modules, lowest first (each imports only those above it in this list, and ``builder``'s own
``cache``, ``console``, ``errors`` and ``archives``):

* ``http``: requests with same-origin Basic auth, one retry policy, ``download`` (atomic, sha256)
* ``links``: the files a PEP 503 (HTML) or PEP 691 (JSON) project page lists
* ``sdist``: find, download and unpack source distributions (numpy's, for the lean build)
"""
