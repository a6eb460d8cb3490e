"""I/O for the checksum database: reaching a database over HTTP (``remote``), running the pure
client flow over storage and the network (``database``), and keeping a private log
(``private``). Everything here maps library errors to ``gomodproxy.errors``."""
