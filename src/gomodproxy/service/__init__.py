"""The application: what the proxy does with a request, independent of HTTP.

- ``requests``  the GOPROXY request grammar: a path → ModRequest (what is asked for)
- ``proxy``     ProxyService: hot cache → storage → single-flight fetch → verify → store
- ``livezip``   a cold zip streamed to clients while it is still being fetched
- ``refusals``  checksum-database refusals remembered in storage, answered 403 until purged
"""
