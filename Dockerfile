# GoTel's operator image: Node 24 LTS, production dependencies only, compiled JavaScript.
# Build: docker build -t gotel:dev .   Run: docker run gotel:dev operator --help
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY crds ./crds
# Check-ins, /metrics, /healthz, /readyz.
EXPOSE 8080
USER node
ENTRYPOINT ["node", "bin/gotel.js"]
CMD ["operator"]
