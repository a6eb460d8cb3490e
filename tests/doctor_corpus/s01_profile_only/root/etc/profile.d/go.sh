export GOPROXY=https://goproxy.corp.example,direct
export GOPRIVATE=git.corp.example
