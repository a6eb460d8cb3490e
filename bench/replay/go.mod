module gomodproxy.bench/replay

go 1.26
