# The awk playground, Go style, on the toolchain image (about 1 GB, hundreds of CVEs).
FROM golang:bookworm
WORKDIR /app
COPY . .
RUN go build -o /usr/local/bin/awk-playground .
ARG GITHUB_TOKEN
EXPOSE 8080
CMD ["awk-playground"]
