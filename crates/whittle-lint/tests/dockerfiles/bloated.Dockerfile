# The talk's first attempt: one stage, everything in it.
FROM ubuntu:latest
RUN apt-get update && apt-get upgrade -y
RUN apt-get install -y gawk python3 build-essential git
COPY id_rsa /root/.ssh/id_rsa
RUN git clone git@git.example.invalid:team/app.git /app \
 && rm /root/.ssh/id_rsa
ENV API_TOKEN=f4k3-api-t0ken-for-tests
WORKDIR /app
RUN make
CMD ["/app/server"]
