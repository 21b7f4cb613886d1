"""Talking to package indexes, and the one HTTP layer every download goes through.

Modules, lowest first (each imports only those above it in this list, and ``builder``'s own
``cache``, ``console``, ``errors``, ``archives``, ``dependencies``, ``runner``, ``wheelfile``):

* ``http``: requests with same-origin Basic auth, one retry policy, ``download`` (atomic, sha256)
* ``links``: the files a PEP 503 (HTML) or PEP 691 (JSON) project page lists
* ``requirements``: the one ``requirements-edge.txt`` writer (hash-pinned)
* ``sdist``: find, download and unpack source distributions (numpy's, for the lean build)
* ``simple_index``: write a static PEP 503 index of a directory of wheels
* ``budget``: the wheels to publish, validated and measured against a size budget
* ``credentials``: the upload target and the credentials for it, the twine way
* ``reader``: what a private index already serves, and its bytes' sha256
* ``twine_once``: twine's command line with twine's own retries off (run by ``upload``)
* ``upload``: one upload through twine, one request to the index per attempt
* ``publish``: the ``publish`` command's steps, in order
"""
