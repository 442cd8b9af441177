# lifecycle-manager container image. Multi-stage: the builder compiles TypeScript with every dependency; the final
# stage has Node.js, the production dependencies and the compiled JavaScript only. Nothing here is specific to one
# architecture, so `docker buildx build --platform linux/amd64,linux/arm64 .` builds both from the same file.
#   docker build --build-arg GIT_COMMIT="$(git rev-parse HEAD)" -t lifecycle-manager:dev .
# The image runs as uid/gid 65532 with no writable path, so a read-only root filesystem works (the Helm chart sets
# readOnlyRootFilesystem: true).
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS builder
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build-info.mjs scripts/bundle-kube-client.mjs ./scripts/
COPY src ./src
# As package.json's prepack: compile, replace the Kubernetes client's entry with its tree-shaken bundle
# (src/kube/k8s.ts), record the commit — `lifecycle-manager version` reports it (there is no .git in the context).
ARG GIT_COMMIT=""
RUN npx tsc -p tsconfig.build.json \
 && node scripts/bundle-kube-client.mjs \
 && LIFECYCLE_MANAGER_GIT_COMMIT="$GIT_COMMIT" node scripts/build-info.mjs

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
# Cap V8's old generation: without a cap V8 grows its heap lazily on a large host and RSS follows (433 MiB in the
# 500-termination benchmark, 179 MiB with this cap, same CPU); and its young generation, which start-up grows to
# 16 MiB per semi-space for good. The chart sets them from .Values.heapSizeMiB and .Values.heapSemiSpaceMiB.
ENV NODE_OPTIONS="--max-old-space-size=128 --max-semi-space-size=2"
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts \
 && npm cache clean --force \
 && rm -rf /root/.npm /tmp/*
COPY --from=builder /src/dist/src ./dist/src
COPY --from=builder /src/dist/build-info.json ./dist/build-info.json
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
CMD ["--help"]
