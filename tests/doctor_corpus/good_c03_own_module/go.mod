module github.com/acme/tool/v2

go 1.22.0
