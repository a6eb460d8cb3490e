export GOPROXY=https://goproxy-b.corp.example,direct
