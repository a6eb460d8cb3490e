module gitlab.corp.example/team/svc

go 1.22.0
