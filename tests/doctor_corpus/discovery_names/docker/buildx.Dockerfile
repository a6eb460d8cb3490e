FROM golang:1.22.3 AS build
ARG GITHUB_TOKEN
WORKDIR /src
COPY . .
RUN go build -o /out/app .
