module example.com/shop

go 1.23.0

require git.corp.example/platform/auth v1.4.2
