module gitlab.corp.example/team/app

go 1.22.0
