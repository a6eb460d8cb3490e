module example.com/app/deploy/worker

go 1.22.0
