# The awk playground, Node style.
FROM node:20-alpine
RUN apk add gawk curl
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci
COPY . .
RUN npm run build
ADD https://example.invalid/awk-examples.tar.gz /app/examples/
RUN curl -fsSL https://example.invalid/setup.sh | sh
USER node
CMD ["node", "dist/server.js"]
