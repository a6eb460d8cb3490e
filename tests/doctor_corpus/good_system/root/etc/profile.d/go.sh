GOPROXY=https://goproxy.corp.example,direct
export GOPROXY
