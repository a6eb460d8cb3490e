module example.com/app/tools/migrate

go 1.24.0
