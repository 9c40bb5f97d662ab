# GoTel's image: one image for the operator (the default command), the CLI (`gotel checkin`,
# `gotel run`, ...) and the sidecar (`gotel sidecar`). The runtime stage has Node 24 and GoTel's
# production dependencies only: no shell, no package manager, no build tools, no tests; it runs as
# uid 65532 and writes nothing to its root filesystem.
#
#   docker build -t registry.example.com/gotel:0.1.0 .            (registry bases, below)
#   scripts/containers.sh build localhost/gotel:dev               (no daemon, no registry: buildah
#                                                                  on bases assembled locally)
# The bases are build arguments so the image can be built where these registries are not reached.
ARG BUILD_BASE=docker.io/library/node:24-bookworm-slim
ARG RUNTIME_BASE=gcr.io/distroless/nodejs24-debian12:nonroot

FROM ${BUILD_BASE} AS build
WORKDIR /app
ENV npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
# Dependencies first: this layer is reused until package-lock.json changes. Install scripts are
# not needed (Node comes with the base) and are not run.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY . .
# Compile, build the single-executable check-in client when this version of the repository has
# it (/gotel/gotel, for jobs whose image has no Node), then keep production dependencies only and
# drop the local control plane (src/dev: `gotel start` and `gotel assets` are for development).
RUN npx tsc -p tsconfig.build.json \
 && npm run build:exe --if-present \
 && mkdir -p /out/gotel \
 && if [ -f dist/gotel-linux-x64 ]; then cp dist/gotel-linux-x64 /out/gotel/gotel; fi \
 && rm -rf dist/dev dist/gotel-linux-x64 \
 && npm prune --omit=dev --ignore-scripts

FROM ${RUNTIME_BASE}
ARG VERSION=0.1.0
ARG REVISION=unknown
# Where the sources live (a URL); set it when publishing.
ARG SOURCE=""
LABEL org.opencontainers.image.title="gotel" \
      org.opencontainers.image.description="GoTel makes sure scheduled work actually happens: reservations, check-ins and alerts for CronJobs and batch jobs" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}"
ENV NODE_ENV=production
# Two malloc arenas for the operator's native memory (src/operator/node-flags.ts, OPERATOR_ENV).
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /out/gotel/ /gotel/
# Check-ins, /healthz, /readyz on 8080; /metrics on 9090.
EXPOSE 8080 9090
USER 65532:65532
# The Node flags are the operator's (src/operator/node-flags.ts): a young generation capped at 16 MiB,
# and an old generation collected once it grew by a quarter (not a cap).
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=8", "--heap-growing-percent=25", "/app/bin/gotel.js"]
CMD ["operator"]
